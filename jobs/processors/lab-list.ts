import { verbatim } from "../../src/chat/markup.ts";
import { isAdmin, sameConversation } from "../../src/commands/authorize.ts";
import { formatHourly, labCostIn, labsHourlyTotal } from "../../src/labs/cost.ts";
import { isLabName, labRef, shownLabName } from "../../src/labs/names.ts";
import { expiryText, withWorldNote } from "../../src/labs/world-time.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import type { CommandProcessor } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";

/**
 * `lab list`: every lab and its state; owner, expiry and cost for the labs of
 * the conversation asking (every lab for an admin). Elsewhere a lab's name and
 * state are all a conversation sees of it.
 */
export function labListProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx) => {
    const labs = await deps.registry.list();
    const { address, user } = ctx.envelope.origin;
    const admin = isAdmin(user, deps.admins ?? []);
    const detailed = (r: LabRecord) => admin || sameConversation(r.address, address);
    const now = deps.clock.now();
    const scale = deps.clock.timeScale;
    const prices = deps.prices
      ? { ...deps.settings, timeScale: deps.clock.timeScale, prices: deps.prices }
      : undefined;
    // A name kept from before names were checked: shown cut, with the reference an admin removes it by.
    const named = (r: LabRecord) =>
      isLabName(r.name)
        ? `*${r.name}*`
        : `*${verbatim(shownLabName(r.name))}* (not a valid name; \`lab destroy ${labRef(r.name)}\`)`;
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
              .map((r) =>
                detailed(r)
                  ? `• ${named(r)} · ${r.state} · ${verbatim(r.owner.name ?? r.owner.id)} · expires ${expiryText(r.expiresAt, now, scale)}${cost(r)}`
                  : `• ${named(r)} · ${r.state} · another conversation`,
              )
              .join("\n") +
            (prices
              ? `\n*Total* ${labsHourlyTotal(
                  prices,
                  labs.filter((r) => r.host === undefined),
                )}`
              : ""),
      footer: withWorldNote(`ref ${verbatim(ctx.envelope.correlationId)}`, scale),
    });
  };
}
