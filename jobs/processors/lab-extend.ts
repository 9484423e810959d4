import { verbatim } from "../../src/chat/markup.ts";
import { lifetimeEnd } from "../../src/commands/caps.ts";
import { formatDuration } from "../../src/commands/parse.ts";
import type { Command } from "../../src/commands/types.ts";
import { formatHourly, labCostIn } from "../../src/labs/cost.ts";
import { labCardFromRecord } from "../../src/labs/lab-card.ts";
import { scaledInterval } from "../../src/labs/timing.ts";
import { expiryText } from "../../src/labs/world-time.ts";
import type { CommandProcessor } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { resolveLab } from "./lab-resolve.ts";

const EXTEND_DEFAULT_MS = 4 * 3_600_000;

/**
 * `lab extend NAME --by 4h`: moves the expiry on, never past the longest
 * lifetime from now nor the lab's whole lifetime from its creation (all
 * scaled like the lab's lifetime), and reschedules it.
 */
export function labExtendProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx) => {
    const command = ctx.envelope.command as Extract<Command, { kind: "lab.extend" }>;
    const record = await resolveLab(ctx, deps, command.lab, {
      needReady: false,
      usage: "lab extend NAME --by 4h",
    });
    if (!record) return;
    const { origin } = ctx.envelope;
    const scale = deps.clock.timeScale;
    const now = deps.clock.now();
    const by = scaledInterval(command.byMs ?? EXTEND_DEFAULT_MS, scale);
    const limit = now + scaledInterval(deps.settings.maxTtlMs, scale);
    // Never past the lab's whole lifetime (LABOPS_MAX_LAB_LIFETIME from its creation); intake refuses
    // an extend once there is nothing left of it, and here what is asked is cut to what is left.
    const end = lifetimeEnd(record, deps.settings.maxLabLifetimeMs, scale);
    const expiresAt = Math.max(record.expiresAt, Math.min(Math.max(record.expiresAt, now) + by, limit, end));
    const updated = await deps.registry.update(record.name, (r) => ({
      ...r,
      expiresAt,
      updatedAt: deps.clock.now(),
    }));
    if (!updated) return;
    // Every lab has its expiry from its creation on, a failed one too (a lab being created is
    // rescheduled again when it turns ready); only a lab being or already destroyed has none.
    if (updated.state !== "destroying" && updated.state !== "destroyed") {
      await deps.scheduler.scheduleExpiry(record.name, expiresAt);
    }
    const capped =
      expiresAt === end
        ? ` (its last possible time: a lab lives at most ${formatDuration(deps.settings.maxLabLifetimeMs)} from its creation)`
        : expiresAt === limit
          ? ` (the most allowed is ${formatDuration(deps.settings.maxTtlMs)} from now)`
          : "";
    const text = `Lab \`${verbatim(record.name)}\` now expires ${expiryText(expiresAt, now, scale)}${capped}; extended by ${verbatim(origin.user.name ?? origin.user.id)}.`;
    if (record.thread) await ctx.chat.reply(record.thread, text);
    else await ctx.chat.notify(origin.address, origin.user, text);
    // The create card at the top of the thread shows the new expiry too (a lab still being created
    // picks it up from its record at its next redraw).
    const { thread } = updated;
    if (thread && (updated.state === "ready" || updated.state === "failed")) {
      const cost = deps.prices
        ? formatHourly(
            labCostIn({ ...deps.settings, timeScale: scale, prices: deps.prices }, updated.location),
          )
        : undefined;
      const card = labCardFromRecord(updated, deps.clock.now(), {
        tenantId: deps.settings.tenantId,
        timeScale: scale,
        ...(cost ? { cost } : {}),
      });
      await ctx.chat.updateCard(thread, card).catch((error: unknown) => {
        ctx.logger.warn(
          { err: error instanceof Error ? error.message : String(error) },
          "chat.update_failed",
        );
      });
    }
  };
}
