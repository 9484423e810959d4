import { verbatim } from "../../src/chat/markup.ts";
import { mention, sameConversation } from "../../src/commands/authorize.ts";
import type { Command } from "../../src/commands/types.ts";
import { progressCard } from "../../src/labs/cards.ts";
import { formatHourly, labCostIn } from "../../src/labs/cost.ts";
import { createLabPlan, createSteps, recordOutputs } from "../../src/labs/create-plan.ts";
import { labNames } from "../../src/labs/naming.ts";
import { runPlan, StepFailedError } from "../../src/labs/runner.ts";
import { scaledInterval } from "../../src/labs/timing.ts";
import { expiryText, tookText } from "../../src/labs/world-time.ts";
import type { HostRecord, LabRecord } from "../../src/ports/registry.ts";
import type { CommandProcessor, ProcessorContext, ProcessorOutcome } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { lockHolder, withLabLock } from "./lab-lock.ts";
import { planRunOptions, recordedSteps } from "./plan-run.ts";
import { ProgressReporter } from "./progress.ts";

/**
 * `lab create NAME`: creates the lab, or resumes it from its last finished
 * step (a failed lab, a job whose worker died). Holds the lab's lock
 * throughout; the registry record is the truth, the thread's card its view.
 */

export function labCreateProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx: ProcessorContext) => {
    const command = ctx.envelope.command as Extract<Command, { kind: "lab.create" }>;
    const { origin, correlationId } = ctx.envelope;
    const lab = command.lab;
    const holder = lockHolder(ctx.jobId);
    // The name intake held for this create (caps): let go once the record guards it, or the create gives up.
    const releaseName = () => deps.caps?.release(lab, correlationId).catch(() => undefined);

    // Checked before the lock, for a quick answer, and again under it, where it holds.
    const early = refusal(await deps.registry.get(lab), ctx, deps);
    if (early) {
      await releaseName();
      await ctx.chat.notify(origin.address, origin.user, early);
      return undefined;
    }

    const result = await withLabLock(deps, lab, holder, ctx.signal, async () => {
      const existing = await deps.registry.get(lab);
      const refused = refusal(existing, ctx, deps);
      if (refused) {
        await releaseName();
        await ctx.chat.notify(origin.address, origin.user, refused);
        return undefined;
      }
      // A lab goes on the host it was first created on; a retry without `--on` keeps it there.
      const host = await hostOf(ctx, deps, command, existing);
      if (host === false) {
        await releaseName();
        return { failed: "host_unavailable" };
      }
      return create(ctx, deps, command, existing, releaseName, host);
    });
    if (result.locked) return result.value;
    await releaseName();
    await ctx.chat.notify(
      origin.address,
      origin.user,
      `Lab \`${verbatim(lab)}\` is busy with another command (${verbatim(result.holder ?? "unknown")}). Wait for it to finish; its thread shows progress.`,
    );
    return { failed: "lab_busy" };
  };
}

/**
 * Why this create must not touch the lab `existing` (issue 14, finding 6):
 * it belongs to another conversation, is ready, is being destroyed, or is
 * being created by another job. Resuming is only for this job's own record
 * (a worker died) or a failed lab of this conversation.
 */
function refusal(
  existing: LabRecord | undefined,
  ctx: ProcessorContext,
  deps: Pick<WorkflowDeps, "clock">,
): string | undefined {
  if (!existing || existing.state === "destroyed") return undefined;
  const lab = existing.name;
  if (!sameConversation(existing.address, ctx.envelope.origin.address)) {
    return `Lab \`${lab}\` belongs to another conversation; nothing was done. Pick another name, e.g. \`lab create ${lab}-2\`.`;
  }
  if (existing.state === "ready") {
    return `Lab \`${lab}\` already exists and is ready (expires ${expiryText(existing.expiresAt, deps.clock.now(), deps.clock.timeScale)}). Say \`lab status ${lab}\` for details.`;
  }
  if (existing.state === "destroying") {
    return `Lab \`${lab}\` is being destroyed; create it again once that finishes.`;
  }
  if (existing.state === "creating" && existing.jobId !== undefined && existing.jobId !== ctx.jobId) {
    return `Lab \`${lab}\` is already being created by another command (owner ${mention(existing.owner)}); its thread shows progress.`;
  }
  return undefined;
}

async function create(
  ctx: ProcessorContext,
  deps: WorkflowDeps,
  command: Extract<Command, { kind: "lab.create" }>,
  existing: LabRecord | undefined,
  releaseName: () => Promise<void> | undefined,
  host: HostRecord | undefined,
): Promise<ProcessorOutcome> {
  const { origin, correlationId } = ctx.envelope;
  const lab = command.lab;
  const { settings } = deps;
  const now = deps.clock.now();
  const names = labNames(lab, host?.name);
  // Pre-flight, before anything exists (see src/labs/preflight.ts): a refusal leaves no record and no resource.
  // A lab on a host adds no node, so it has nothing to check.
  const demand = {
    ...settings,
    lab,
    cluster: names.cluster,
    location: existing?.location ?? host?.location ?? settings.location,
  };
  const preflight = host ? undefined : deps.preflight;
  const fits = await preflight?.check(demand, ctx.signal);
  if (fits && !fits.ok) {
    await releaseName();
    await ctx.chat.notify(origin.address, origin.user, fits.message);
    return { failed: fits.code };
  }

  let record: LabRecord;
  if (existing) {
    record =
      (await deps.registry.update(lab, (r) => ({
        ...r,
        state: "creating",
        updatedAt: now,
        jobId: ctx.jobId,
      }))) ?? existing;
  } else {
    // No lab outlives LABOPS_MAX_LAB_LIFETIME, whatever its --ttl.
    const ttl = Math.min(
      command.ttlMs ?? settings.defaultTtlMs,
      settings.maxTtlMs,
      settings.maxLabLifetimeMs,
    );
    record = {
      name: lab,
      state: "creating",
      owner: origin.user,
      address: origin.address,
      location: demand.location,
      createdAt: now,
      updatedAt: now,
      // A lifetime is a wait like any other: the emulated world's time scale shortens it, and the
      // recorded expiry is when the lab really goes, so cards and reminders tell the truth.
      expiresAt: now + scaledInterval(ttl, deps.clock.timeScale),
      outputs: { resourceGroup: names.resourceGroup, cluster: names.cluster, identity: names.identity },
      jobId: ctx.jobId,
      ...(host ? { host: host.name } : {}),
      correlationId,
    };
    if (await deps.registry.create(record)) {
      // Every lab expires, whether or not it ever becomes ready: the expiry (and its reminder) is
      // scheduled with the record, and kept if the create fails, so a half-built lab is destroyed too.
      await deps.scheduler.scheduleExpiry(lab, record.expiresAt);
    } else {
      // Created by someone else since the check under the lock: never adopt another's record.
      await deps.preflight?.release(demand).catch(() => undefined);
      await releaseName();
      await ctx.chat.notify(
        origin.address,
        origin.user,
        `Lab \`${lab}\` was just created by another command; nothing was done. Say \`lab status ${lab}\` to see it.`,
      );
      return undefined;
    }
  }
  // The record now guards the name.
  await releaseName();

  // Elapsed time counts from the lab's creation, so a resumed job shows the whole duration.
  const startedAt = record.createdAt;
  const view = {
    lab,
    verb: "create" as const,
    status: "running" as const,
    steps: ProgressReporter.initialSteps(createSteps(host !== undefined), record),
    correlationId,
    startedAt,
    now: startedAt,
    record,
    tenantId: settings.tenantId,
    timeScale: deps.clock.timeScale,
    ...(deps.prices
      ? {
          cost: formatHourly(
            labCostIn({ ...settings, timeScale: deps.clock.timeScale, prices: deps.prices }, record.location),
          ),
        }
      : {}),
  };
  let thread = record.thread;
  if (!thread) {
    thread = await ctx.chat.openThread(origin.address, progressCard(view));
    const t = thread;
    record = (await deps.registry.update(lab, (r) => ({ ...r, thread: t }))) ?? record;
  } else if (existing?.state === "failed") {
    await ctx.chat.reply(thread, `Retrying from where it stopped (ref ${correlationId}).`);
  }

  const progress = new ProgressReporter({
    chat: ctx.chat,
    thread,
    logger: ctx.logger,
    clock: deps.clock,
    view,
    milestones: {
      aks: (e) =>
        `Cluster \`${names.cluster}\` is up with its OIDC issuer and the Key Vault CSI addon (${tookText(e.durationMs, deps.clock.timeScale)}).`,
      kv: (e) => `Key Vault \`${e.outputs.name ?? ""}\` is ready.`,
      ...(host
        ? {
            fic: () =>
              `The identity trusts service account \`${names.serviceAccount}\` of namespace \`${names.namespace}\` on host \`${host.name}\`.`,
          }
        : {}),
      verify: (e) =>
        `podinfo runs on ${e.outputs.pods ?? "its"} pods with secrets from the vault. Try \`secret rotate color orange --lab ${lab}\`.`,
    },
    // A resumed job says what its killed predecessor finished but never said, and nothing twice.
    announced: announcedSteps(ctx.saved.announced, existing),
    onAnnounced: (steps) => ctx.checkpoint({ announced: steps }),
  });
  progress.update();
  progress.catchUp(record.steps ?? {});

  const plan = createLabPlan(
    {
      lab,
      location: record.location,
      subscriptionId: settings.subscriptionId,
      tenantId: settings.tenantId,
      tags: {
        "labops-lab": lab,
        "labops-owner": `${record.owner.platform}:${record.owner.id}`,
        "labops-channel": `${record.address.platform}:${record.address.channel}`,
        "labops-expires": new Date(record.expiresAt).toISOString(),
      },
      replicas: settings.replicas,
      nodeCount: settings.nodeCount,
      vmSize: settings.vmSize,
      rotationPollInterval: settings.rotationPollInterval,
      ...(host ? { host: { name: host.name, oidcIssuerUrl: host.outputs.oidcIssuerUrl ?? "" } } : {}),
    },
    { azure: deps.azure, keyVault: deps.keyVault, cluster: deps.cluster, clock: deps.clock },
  );

  const done = recordedSteps(record.steps);

  try {
    await runPlan(
      plan.steps,
      planRunOptions(ctx, deps, progress, {
        done,
        async save(step, outputs, durationMs) {
          const updated = await deps.registry.update(lab, (r) => ({
            ...r,
            updatedAt: deps.clock.now(),
            outputs: { ...r.outputs, ...recordOutputs(step, outputs) },
            steps: { ...r.steps, [step]: { outputs, durationMs, finishedAt: deps.clock.now() } },
          }));
          if (updated) view.record = updated;
          await ctx.checkpoint({ lastStep: step });
        },
      }),
    );
  } catch (error) {
    if (error instanceof StepFailedError) {
      progress.update({
        status: "failed",
        error: {
          step: error.step,
          code: error.code,
          message: error.message,
          ...(error.hint ? { hint: error.hint } : {}),
        },
      });
      const hint = error.hint ? ` ${verbatim(error.hint)}` : "";
      progress.reply(
        `Step *${verbatim(error.step)}* failed with \`${verbatim(error.code)}\`.${hint} Press *Retry* or say \`lab create ${verbatim(lab)}\` to resume from there.`,
      );
      await progress.flush();
      plan.dispose();
      await preflight?.release(demand).catch(() => undefined);
      // Last, as on success: whoever sees "failed" (and retries) also sees the card.
      await deps.registry.update(lab, (r) => ({
        ...r,
        state: "failed",
        updatedAt: deps.clock.now(),
        lastError: { step: error.step, code: error.code, message: error.message },
      }));
      // The failure is reported; the job itself is done (a retry is a new command from the user).
      return { failed: error.code };
    }
    // Cancelled or drained: the chat calls already queued go out before another worker resumes the job.
    await progress.flush();
    plan.dispose();
    throw error;
  }
  plan.dispose();

  // The card is final before the record says ready, so whoever sees "ready" also sees the card.
  progress.update({ status: "succeeded" });
  await progress.flush();
  const ready = await deps.registry.update(lab, (r) => {
    const { lastError: _dropped, ...rest } = r;
    return { ...rest, state: "ready", updatedAt: deps.clock.now() };
  });
  // Again, in case the lab was extended while it was being built (the schedule replaces the first).
  await deps.scheduler.scheduleExpiry(lab, (ready ?? record).expiresAt);
  await preflight?.release(demand).catch(() => undefined);
  return undefined;
}

/**
 * The host a lab goes on: the one it already lives on, else the one named by
 * `--on`, which must be ready (with its OIDC issuer). Undefined for a
 * dedicated lab; false, after telling the user, when the host cannot take it.
 */
async function hostOf(
  ctx: ProcessorContext,
  deps: WorkflowDeps,
  command: Extract<Command, { kind: "lab.create" }>,
  existing: LabRecord | undefined,
): Promise<HostRecord | undefined | false> {
  const { origin } = ctx.envelope;
  const say = async (text: string) => {
    await ctx.chat.notify(origin.address, origin.user, text);
    return false as const;
  };
  if (existing && existing.host !== command.host && command.host !== undefined) {
    return say(
      `Lab \`${command.lab}\` was created ${existing.host ? `on host \`${existing.host}\`` : "as a dedicated lab"}; retry it with \`lab create ${command.lab}\`, or destroy it first to move it.`,
    );
  }
  const name = existing ? existing.host : command.host;
  if (name === undefined) return undefined;
  const host = await deps.hosts.get(name);
  if (!host || host.state === "destroying") {
    return say(
      `There is no host \`${name}\`. Say \`host status\` to see the hosts, or leave out \`--on\` for a dedicated lab.`,
    );
  }
  if (host.state !== "ready" || !host.outputs.oidcIssuerUrl) {
    return say(
      `Host \`${name}\` is ${host.state}; labs go on it once it is ready. Say \`host status ${name}\`.`,
    );
  }
  return host;
}

/**
 * Milestones already said: those this job's earlier attempts checkpointed, and,
 * for a new command resuming a failed lab, every step it finished (that job
 * ended normally, so it said them).
 */
function announcedSteps(saved: unknown, existing: LabRecord | undefined): string[] {
  const fromJob = Array.isArray(saved) ? saved.filter((s): s is string => typeof s === "string") : [];
  const fromFailedJob = existing?.state === "failed" ? Object.keys(existing.steps ?? {}) : [];
  return [...fromJob, ...fromFailedJob];
}
