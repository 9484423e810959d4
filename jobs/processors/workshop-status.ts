import type { Command } from "../../src/commands/types.ts";
import { formatHourly, labHourlyCost } from "../../src/labs/cost.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import type { CommandProcessor } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { type TeamRow, workshopCard, workshopLabs } from "./workshop-create.ts";

/** A workshop lab's row: its state, how long its create took, and what failed. */
export function teamRow(lab: LabRecord): TeamRow {
  const durations = Object.values(lab.steps ?? {}).map((s) => s.finishedAt);
  const durationMs = durations.length ? Math.max(...durations) - lab.createdAt : undefined;
  const base = { lab: lab.name, ...(durationMs !== undefined ? { durationMs } : {}) };
  if (lab.state === "ready") return { ...base, state: "done", detail: "ready" };
  if (lab.state === "failed") {
    return {
      ...base,
      state: "failed",
      detail: `failed at ${lab.lastError?.step ?? "?"}: ${lab.lastError?.code ?? "?"}`,
    };
  }
  return { ...base, state: "running", detail: lab.state };
}

/** `workshop status PREFIX`: the workshop card again, from the registry. */
export function workshopStatusProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx) => {
    const command = ctx.envelope.command as Extract<Command, { kind: "workshop.status" }>;
    const { origin, correlationId } = ctx.envelope;
    const labs = workshopLabs(command.prefix, await deps.registry.list());
    const hostName = labs[0]?.host ?? command.prefix;
    const host = await deps.hosts.get(hostName);
    if (labs.length === 0 && !host) {
      await ctx.chat.notify(
        origin.address,
        origin.user,
        `There is no workshop \`${command.prefix}\`: no lab \`${command.prefix}-N\` and no host of that name.`,
      );
      return;
    }
    const cost =
      host && deps.prices
        ? `${formatHourly(labHourlyCost({ nodeCount: host.nodeCount, vmSize: deps.settings.vmSize, tier: "Free" }, host.location, deps.prices))} for the host`
        : undefined;
    const first = Math.min(...labs.map((l) => l.createdAt), host?.createdAt ?? Number.POSITIVE_INFINITY);
    await ctx.chat.openThread(
      origin.address,
      workshopCard({
        prefix: command.prefix,
        host,
        rows: labs.map(teamRow),
        cost,
        correlationId,
        elapsedMs: Number.isFinite(first) ? deps.clock.now() - first : 0,
      }),
    );
  };
}
