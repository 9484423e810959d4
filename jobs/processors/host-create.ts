import type { Command } from "../../src/commands/types.ts";
import { formatElapsed, formatWhen, progressCard } from "../../src/labs/cards.ts";
import { createHostPlan, HOST_CREATE_STEPS, hostRecordOutputs } from "../../src/labs/host-plan.ts";
import { hostNames } from "../../src/labs/naming.ts";
import { runPlan, StepFailedError } from "../../src/labs/runner.ts";
import { scaledInterval } from "../../src/labs/timing.ts";
import type { HostRecord } from "../../src/ports/registry.ts";
import type { CommandProcessor, ProcessorContext, ProcessorOutcome } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { hostLockName, hostScheduleName } from "./host-lock.ts";
import { lockHolder, withLabLock } from "./lab-lock.ts";
import { planRunOptions, recordedSteps } from "./plan-run.ts";
import { ProgressReporter } from "./progress.ts";

type HostCreate = Extract<Command, { kind: "host.create" }>;

/**
 * `host create NAME [--nodes N] [--ttl]` (admins): builds the host cluster
 * (src/labs/host-plan.ts) after the same pre-flight as a lab's cluster, or
 * resumes a failed one from its last finished step.
 */
export function hostCreateProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx: ProcessorContext) => {
    const command = ctx.envelope.command as HostCreate;
    const { origin } = ctx.envelope;
    const existing = await deps.hosts.get(command.host);
    if (existing && existing.state !== "failed") {
      await ctx.chat.notify(
        origin.address,
        origin.user,
        `Host \`${command.host}\` already exists (${existing.state}). Say \`host status ${command.host}\` for details.`,
      );
      return;
    }
    const result = await withLabLock(
      deps,
      hostLockName(command.host),
      lockHolder(ctx.jobId),
      ctx.signal,
      () => buildHost(ctx, deps, command, existing),
    );
    if (result.locked) return result.value;
    await ctx.chat.notify(
      origin.address,
      origin.user,
      `Host \`${command.host}\` is busy with another command.`,
    );
    return { failed: "host_busy" };
  };
}

/** Builds (or resumes) the host under its lock, with its own card: `host create` and `workshop create`. */
export async function buildHost(
  ctx: ProcessorContext,
  deps: WorkflowDeps,
  command: Pick<HostCreate, "host" | "nodeCount" | "ttlMs">,
  existing: HostRecord | undefined,
): Promise<ProcessorOutcome> {
  const { origin, correlationId } = ctx.envelope;
  const { settings, clock } = deps;
  const host = command.host;
  const names = hostNames(host);
  const nodeCount = existing?.nodeCount ?? command.nodeCount ?? settings.nodeCount;
  const location = existing?.location ?? settings.location;
  // The same pre-flight as a lab's cluster (src/labs/preflight.ts): quota and VM size, before anything exists.
  const demand = {
    lab: `host:${host}`,
    cluster: names.cluster,
    location,
    nodeCount,
    vmSize: settings.vmSize,
  };
  const fits = await deps.preflight?.check(demand, ctx.signal);
  if (fits && !fits.ok) {
    await ctx.chat.notify(origin.address, origin.user, fits.message);
    return { failed: fits.code };
  }

  const now = clock.now();
  let record: HostRecord = existing
    ? ((await deps.hosts.update(host, (r) => ({
        ...r,
        state: "creating",
        updatedAt: now,
        jobId: ctx.jobId,
      }))) ?? existing)
    : {
        name: host,
        state: "creating",
        owner: origin.user,
        address: origin.address,
        location,
        createdAt: now,
        updatedAt: now,
        expiresAt:
          now +
          scaledInterval(
            Math.min(command.ttlMs ?? settings.defaultTtlMs, settings.maxTtlMs),
            clock.timeScale,
          ),
        outputs: { resourceGroup: names.resourceGroup, cluster: names.cluster },
        jobId: ctx.jobId,
        nodeCount,
      };
  if (!existing && (await deps.hosts.create(record))) {
    // Every host expires, ready or not, with every lab on it (jobs/scheduler.ts).
    await deps.scheduler.scheduleExpiry(hostScheduleName(host), record.expiresAt);
  } else if (!existing) {
    record = (await deps.hosts.get(host)) ?? record;
  }

  const view = {
    lab: host,
    noun: "Host",
    verb: "create" as const,
    status: "running" as const,
    steps: ProgressReporter.initialSteps(HOST_CREATE_STEPS, record),
    correlationId,
    startedAt: record.createdAt,
    now: record.createdAt,
  };
  let thread = record.thread;
  if (!thread) {
    thread = await ctx.chat.openThread(origin.address, progressCard(view));
    const t = thread;
    record = (await deps.hosts.update(host, (r) => ({ ...r, thread: t }))) ?? record;
  }
  const progress = new ProgressReporter({
    chat: ctx.chat,
    thread,
    logger: ctx.logger,
    clock,
    view,
    milestones: {
      aks: (e) =>
        `Cluster \`${names.cluster}\` is up with ${nodeCount} nodes, its OIDC issuer and the Key Vault CSI addon (${formatElapsed(e.durationMs)}).`,
      reloader: () =>
        `Host \`${host}\` is ready for labs (expires ${formatWhen(record.expiresAt)}): \`lab create NAME --on ${host}\`.`,
    },
  });
  progress.update();
  progress.catchUp(record.steps ?? {});

  const plan = createHostPlan(
    {
      host,
      location,
      nodeCount,
      vmSize: settings.vmSize,
      rotationPollInterval: settings.rotationPollInterval,
      tags: {
        "labops-host": host,
        "labops-owner": `${record.owner.platform}:${record.owner.id}`,
        "labops-expires": new Date(record.expiresAt).toISOString(),
      },
    },
    deps,
  );
  const done = recordedSteps(record.steps);
  try {
    await runPlan(
      plan.steps,
      planRunOptions(ctx, deps, progress, {
        done,
        async save(step, outputs, durationMs) {
          await deps.hosts.update(host, (r) => ({
            ...r,
            updatedAt: clock.now(),
            outputs: { ...r.outputs, ...hostRecordOutputs(step, outputs) },
            steps: { ...r.steps, [step]: { outputs, durationMs, finishedAt: clock.now() } },
          }));
        },
      }),
    );
  } catch (error) {
    plan.dispose();
    await deps.preflight?.release(demand).catch(() => undefined);
    if (!(error instanceof StepFailedError)) {
      await progress.flush();
      throw error;
    }
    const failure = { step: error.step, code: error.code, message: error.message };
    progress.update({ status: "failed", error: { ...failure, ...(error.hint ? { hint: error.hint } : {}) } });
    progress.reply(
      `Step *${error.step}* failed with \`${error.code}\`.${error.hint ? ` ${error.hint}` : ""} Say \`host create ${host}\` to resume from there.`,
    );
    await progress.flush();
    await deps.hosts.update(host, (r) => ({
      ...r,
      state: "failed",
      updatedAt: clock.now(),
      lastError: failure,
    }));
    return { failed: error.code };
  }
  plan.dispose();
  progress.update({ status: "succeeded" });
  await progress.flush();
  await deps.hosts.update(host, (r) => {
    const { lastError: _dropped, ...rest } = r;
    return { ...rest, state: "ready", updatedAt: clock.now() };
  });
  await deps.preflight?.release(demand).catch(() => undefined);
  return undefined;
}
