import { formatHourly, labCostIn, labsHourlyTotal } from "../../src/labs/cost.ts";
import { expiryText, withWorldNote } from "../../src/labs/world-time.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import type { CommandProcessor } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";

/** `lab list`: every lab, its state, owner and expiry. */
export function labListProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx) => {
    const labs = await deps.registry.list();
    const now = deps.clock.now();
    const scale = deps.clock.timeScale;
    const prices = deps.prices
      ? { ...deps.settings, timeScale: deps.clock.timeScale, prices: deps.prices }
      : undefined;
    const cost = (r: LabRecord) => (prices ? ` · ${formatHourly(labCostIn(prices, r.location))}` : "");
    await ctx.chat.openThread(ctx.envelope.origin.address, {
      title: labs.length === 0 ? "No labs yet" : `${labs.length} lab${labs.length === 1 ? "" : "s"}`,
      status: "info",
      text:
        labs.length === 0
          ? "Create one with `lab create team-a`."
          : labs
              .map(
                (r) =>
                  `• *${r.name}* · ${r.state} · ${r.owner.name ?? r.owner.id} · expires ${expiryText(r.expiresAt, now, scale)}${cost(r)}`,
              )
              .join("\n") + (prices ? `\n*Total* ${labsHourlyTotal(prices, labs)}` : ""),
      footer: withWorldNote(`ref ${ctx.envelope.correlationId}`, scale),
    });
  };
}
