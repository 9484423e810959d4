import { formatWhen } from "../../src/labs/cards.ts";
import { formatHourly, labCostIn, labsHourlyTotal } from "../../src/labs/cost.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import type { CommandProcessor } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";

/** `lab list`: every lab, its state, owner and expiry. */
export function labListProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx) => {
    const labs = await deps.registry.list();
    const prices = deps.prices
      ? { ...deps.settings, timeScale: deps.clock.timeScale, prices: deps.prices }
      : undefined;
    // A lab on a host adds no node: its cost is its host's (`host status`), not a cluster of its own.
    const cost = (r: LabRecord) =>
      r.host !== undefined
        ? ` · on host ${r.host}`
        : prices
          ? ` · ${formatHourly(labCostIn(prices, r.location))}`
          : "";
    await ctx.chat.openThread(ctx.envelope.origin.address, {
      title: labs.length === 0 ? "No labs yet" : `${labs.length} lab${labs.length === 1 ? "" : "s"}`,
      status: "info",
      text:
        labs.length === 0
          ? "Create one with `lab create team-a`."
          : labs
              .map(
                (r) =>
                  `• *${r.name}* · ${r.state} · ${r.owner.name ?? r.owner.id} · expires ${formatWhen(r.expiresAt)}${cost(r)}`,
              )
              .join("\n") +
            (prices
              ? `\n*Total* ${labsHourlyTotal(
                  prices,
                  labs.filter((r) => r.host === undefined),
                )}`
              : ""),
      footer: `ref ${ctx.envelope.correlationId}`,
    });
  };
}
