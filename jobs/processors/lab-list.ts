import { formatWhen } from "../../src/labs/cards.ts";
import type { CommandProcessor } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";

/** `lab list`: every lab, its state, owner and expiry. */
export function labListProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx) => {
    const labs = await deps.registry.list();
    await ctx.chat.openThread(ctx.envelope.origin.address, {
      title: labs.length === 0 ? "No labs yet" : `${labs.length} lab${labs.length === 1 ? "" : "s"}`,
      status: "info",
      text:
        labs.length === 0
          ? "Create one with `lab create team-a`."
          : labs
              .map(
                (r) =>
                  `• *${r.name}* · ${r.state} · ${r.owner.name ?? r.owner.id} · expires ${formatWhen(r.expiresAt)}`,
              )
              .join("\n"),
      footer: `ref ${ctx.envelope.correlationId}`,
    });
  };
}
