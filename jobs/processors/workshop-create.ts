import { ACTION } from "../../src/commands/actions.ts";
import type { Command } from "../../src/commands/types.ts";
import { formatElapsed, formatWhen } from "../../src/labs/cards.ts";
import { formatHourly, labHourlyCost } from "../../src/labs/cost.ts";
import { teamLabs } from "../../src/labs/naming.ts";
import type { Card, CardAction, CardStep, ThreadRef } from "../../src/ports/chat.ts";
import type { HostRecord, LabRecord } from "../../src/ports/registry.ts";
import type { CommandProcessor, ProcessorContext, ProcessorOutcome } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { buildHost } from "./host-create.ts";
import { hostLockName } from "./host-lock.ts";
import { lockHolder, withLabLock } from "./lab-lock.ts";
import { buildTeamLab, type TeamOutcome } from "./workshop-lab.ts";

type WorkshopCreate = Extract<Command, { kind: "workshop.create" }>;

/**
 * How many teams' labs are built at once. Each team has its own identity, so
 * federated credentials never race on one identity (Entra writes them one at
 * a time per identity). Ten at a time puts about 70 ARM writes (seven per
 * team) in the first burst, well inside the subscription's write bucket (200,
 * refilled at 10 a second), and builds 30 teams in three waves of one lab's
 * critical path (vault, roles, propagation); the SDK waits out any 429 by its
 * Retry-After.
 */
export const WORKSHOP_CONCURRENCY = 10;

/** Labs of the registry that belong to workshop `prefix`, in team order. */
export function workshopLabs(prefix: string, labs: readonly LabRecord[]): LabRecord[] {
  const pattern = new RegExp(`^${prefix}-(\\d+)$`);
  return labs
    .filter((l) => pattern.test(l.name) && l.host !== undefined && l.state !== "destroyed")
    .sort((a, b) => Number(pattern.exec(a.name)?.[1]) - Number(pattern.exec(b.name)?.[1]));
}

/** The node count of a workshop's own host: one node per ten teams, plus one; at least a lab's. */
export function workshopNodes(teams: number, minimum: number): number {
  return Math.min(10, Math.max(minimum, Math.ceil(teams / 10) + 1));
}

export interface TeamRow {
  lab: string;
  state: "pending" | "running" | "done" | "failed";
  detail?: string;
  durationMs?: number;
}

/** The workshop card: a row per team (state, elapsed, ready or what failed), the host and its cost per hour. */
export function workshopCard(view: {
  prefix: string;
  host: HostRecord | undefined;
  rows: TeamRow[];
  cost: string | undefined;
  correlationId: string;
  elapsedMs: number;
}): Card {
  const ready = view.rows.filter((r) => r.state === "done").length;
  const failed = view.rows.filter((r) => r.state === "failed");
  const finished = ready + failed.length === view.rows.length;
  const steps: CardStep[] = view.rows.map((r) => ({
    name: r.lab,
    label: r.lab,
    state: r.state,
    ...(r.durationMs !== undefined ? { durationMs: r.durationMs } : {}),
    ...(r.detail ? { detail: r.detail } : {}),
  }));
  const title = !finished
    ? `Workshop ${view.prefix}: ${ready}/${view.rows.length} teams ready (${formatElapsed(view.elapsedMs)})`
    : failed.length === 0
      ? `Workshop ${view.prefix}: ${ready} teams ready (${formatElapsed(view.elapsedMs)})`
      : `Workshop ${view.prefix}: ${failed.length} of ${view.rows.length} teams failed`;
  return {
    title,
    status: !finished ? "running" : failed.length === 0 ? "succeeded" : "failed",
    steps,
    progress: { done: ready, total: view.rows.length },
    ...(failed.length ? { text: retryText(failed), actions: retryButtons(failed) } : {}),
    fields: [
      ...(view.host ? [{ label: "Host", value: `${view.host.name} (${view.host.nodeCount} nodes)` }] : []),
      ...(view.host ? [{ label: "Expires", value: formatWhen(view.host.expiresAt) }] : []),
      ...(view.cost ? [{ label: "Cost", value: view.cost }] : []),
    ],
    footer: `ref ${view.correlationId}`,
  };
}

/**
 * The most Retry buttons a workshop card carries: a row of buttons must fit
 * Slack's actions block and a Teams card's action set; the teams beyond are
 * named in the text, with the command to type.
 */
export const MAX_RETRY_BUTTONS = 5;

/**
 * A Retry button per failed team (the first few): the same `lab.retry`
 * action as a lab's own card, so it goes through the one action mapper and
 * intake like a typed `lab create NAME`, and the lab resumes where it
 * stopped, on the host its record names.
 */
function retryButtons(failed: readonly TeamRow[]): CardAction[] {
  return failed.slice(0, MAX_RETRY_BUTTONS).map((r) => ({
    kind: "button",
    id: ACTION.retry,
    label: `Retry ${r.lab}`,
    value: r.lab,
    style: "primary",
  }));
}

function retryText(failed: readonly TeamRow[]): string {
  const more = failed.slice(MAX_RETRY_BUTTONS).map((r) => `\`lab create ${r.lab}\``);
  return more.length === 0
    ? "Press *Retry* on a team: it resumes where it stopped, on the same host."
    : `Press *Retry* on a team, or say ${more.join(" or ")}: each resumes where it stopped, on the same host.`;
}

/** `workshop create PREFIX --teams N [--on HOST] [--ttl]` (admins). */
export function workshopCreateProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx: ProcessorContext) => {
    const command = ctx.envelope.command as WorkshopCreate;
    const { origin, correlationId } = ctx.envelope;
    const hostName = command.host ?? command.prefix;
    // Intake held every team's name under this command's ref (caps); whatever happens, they go.
    const releaseTeam = (lab: string) => deps.caps?.release(lab, correlationId).catch(() => undefined);
    try {
      return await run();
    } finally {
      await Promise.all(teamLabs(command.prefix, command.teams).map(releaseTeam));
    }

    async function run(): Promise<ProcessorOutcome> {
      const host = await workshopHost(ctx, deps, command, hostName);
      if (!host) return { failed: "host_unavailable" };

      const startedAt = deps.clock.now();
      const rows: TeamRow[] = teamLabs(command.prefix, command.teams).map((lab) => ({
        lab,
        state: "pending",
      }));
      const cost = deps.prices
        ? `${formatHourly(labHourlyCost({ nodeCount: host.nodeCount, vmSize: deps.settings.vmSize, tier: "Free" }, host.location, deps.prices))} for the host`
        : undefined;
      const card = () =>
        workshopCard({
          prefix: command.prefix,
          host,
          rows,
          cost,
          correlationId,
          elapsedMs: deps.clock.now() - startedAt,
        });
      const thread: ThreadRef = await ctx.chat.openThread(origin.address, card());
      // One card update in flight at a time, always the latest: the chat layer paces what goes out.
      let updating: Promise<void> | undefined;
      let again = false;
      const update = () => {
        if (updating) {
          again = true;
          return;
        }
        updating = ctx.chat
          .updateCard(thread, card())
          .catch((error: unknown) => ctx.logger.warn({ err: error }, "workshop.card_update_failed"))
          .finally(() => {
            updating = undefined;
            if (again) {
              again = false;
              update();
            }
          });
      };

      const queue = [...rows];
      const worker = async () => {
        for (let row = queue.shift(); row; row = queue.shift()) {
          const r = row;
          r.state = "running";
          update();
          const outcome: TeamOutcome = await buildTeamLab(ctx, deps, r.lab, host, command.ttlMs);
          // The team's record guards its name now: the hold intake took (caps) goes, so a Retry is admitted.
          await releaseTeam(r.lab);
          r.state = outcome.state === "ready" ? "done" : "failed";
          r.durationMs = outcome.durationMs;
          r.detail = outcome.state === "ready" ? "ready" : `failed at ${outcome.step}: ${outcome.code}`;
          update();
        }
      };
      await Promise.all(Array.from({ length: Math.min(WORKSHOP_CONCURRENCY, rows.length) }, worker));
      while (updating) await updating;
      await ctx.chat.updateCard(thread, card());
      const failed = rows.filter((r) => r.state === "failed").length;
      return failed ? { failed: "workshop_partial" } : undefined;
    }
  };
}

/** The workshop's host: the one named by `--on` (ready), or host PREFIX, built now when it is not there yet. */
async function workshopHost(
  ctx: ProcessorContext,
  deps: WorkflowDeps,
  command: WorkshopCreate,
  name: string,
): Promise<HostRecord | undefined> {
  const { origin } = ctx.envelope;
  let host = await deps.hosts.get(name);
  if (command.host === undefined && (!host || host.state === "failed")) {
    const nodeCount = workshopNodes(command.teams, deps.settings.nodeCount);
    const built = await withLabLock(deps, hostLockName(name), lockHolder(ctx.jobId), ctx.signal, () =>
      buildHost(ctx, deps, { host: name, nodeCount, ttlMs: command.ttlMs }, host),
    );
    if (!built.locked) {
      await ctx.chat.notify(origin.address, origin.user, `Host \`${name}\` is busy with another command.`);
      return undefined;
    }
    host = await deps.hosts.get(name);
  }
  if (host?.state !== "ready" || !host.outputs.oidcIssuerUrl) {
    await ctx.chat.notify(
      origin.address,
      origin.user,
      host
        ? `Host \`${name}\` is ${host.state}; the workshop's labs go on it once it is ready. Say \`host status ${name}\`.`
        : `There is no host \`${name}\`. Say \`host status\` to see the hosts, or leave out \`--on\` to make one.`,
    );
    return undefined;
  }
  return host;
}
