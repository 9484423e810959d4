import { createLabPlan, recordOutputs } from "../../src/labs/create-plan.ts";
import { labNames } from "../../src/labs/naming.ts";
import { runPlan, StepFailedError } from "../../src/labs/runner.ts";
import { scaledInterval } from "../../src/labs/timing.ts";
import type { HostRecord, LabRecord } from "../../src/ports/registry.ts";
import type { ProcessorContext } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { lockHolder, withLabLock } from "./lab-lock.ts";
import { recordedSteps } from "./plan-run.ts";

/**
 * One team's lab of a workshop, built on the workshop's host without a card
 * of its own (the workshop card has its row): the same record, plan,
 * checkpoints and expiry as `lab create NAME --on HOST`, so every lab
 * command works on it afterwards, and `lab create NAME` resumes it when it
 * failed.
 */

export type TeamOutcome =
  | { state: "ready"; durationMs: number }
  | { state: "failed"; durationMs: number; step: string; code: string };

export async function buildTeamLab(
  ctx: ProcessorContext,
  deps: WorkflowDeps,
  lab: string,
  host: HostRecord,
  ttlMs: number | undefined,
): Promise<TeamOutcome> {
  const { origin } = ctx.envelope;
  const { settings, clock } = deps;
  const names = labNames(lab, host.name);
  const now = clock.now();
  const fresh: LabRecord = {
    name: lab,
    state: "creating",
    owner: origin.user,
    address: origin.address,
    location: host.location,
    createdAt: now,
    updatedAt: now,
    // No lab outlives LABOPS_MAX_LAB_LIFETIME, whatever its --ttl (as `lab create`).
    expiresAt:
      now +
      scaledInterval(
        Math.min(ttlMs ?? settings.defaultTtlMs, settings.maxTtlMs, settings.maxLabLifetimeMs),
        clock.timeScale,
      ),
    outputs: { resourceGroup: names.resourceGroup, cluster: names.cluster, identity: names.identity },
    host: host.name,
    jobId: ctx.jobId,
  };
  const existing = await deps.registry.get(lab);
  if (existing?.state === "ready") return { state: "ready", durationMs: 0 };
  if (existing && existing.host !== host.name) {
    return { state: "failed", durationMs: 0, step: "record", code: "NameTaken" };
  }
  if (!existing && (await deps.registry.create(fresh)))
    await deps.scheduler.scheduleExpiry(lab, fresh.expiresAt);
  const started = (await deps.registry.get(lab))?.createdAt ?? now;

  const result = await withLabLock(deps, lab, `${lockHolder(ctx.jobId)}-${lab}`, ctx.signal, async () => {
    const record = await deps.registry.update(lab, (r) => ({
      ...r,
      state: "creating",
      updatedAt: clock.now(),
    }));
    const plan = createLabPlan(
      {
        lab,
        location: host.location,
        subscriptionId: settings.subscriptionId,
        tenantId: settings.tenantId,
        tags: {
          "labops-lab": lab,
          "labops-host": host.name,
          "labops-owner": `${origin.user.platform}:${origin.user.id}`,
          "labops-channel": `${origin.address.platform}:${origin.address.channel}`,
          "labops-expires": new Date(record?.expiresAt ?? fresh.expiresAt).toISOString(),
        },
        replicas: settings.replicas,
        nodeCount: settings.nodeCount,
        vmSize: settings.vmSize,
        rotationPollInterval: settings.rotationPollInterval,
        host: { name: host.name, oidcIssuerUrl: host.outputs.oidcIssuerUrl ?? "" },
      },
      deps,
    );
    const done = recordedSteps(record?.steps);
    try {
      await runPlan(plan.steps, {
        signal: ctx.signal,
        drain: ctx.drain,
        logger: ctx.logger.child({ lab }),
        clock,
        checkpoints: {
          done,
          async save(step, outputs, durationMs) {
            await deps.registry.update(lab, (r) => ({
              ...r,
              updatedAt: clock.now(),
              outputs: { ...r.outputs, ...recordOutputs(step, outputs) },
              steps: { ...r.steps, [step]: { outputs, durationMs, finishedAt: clock.now() } },
            }));
          },
        },
      });
    } catch (error) {
      if (!(error instanceof StepFailedError)) throw error;
      const lastError = { step: error.step, code: error.code, message: error.message };
      await deps.registry.update(lab, (r) => ({ ...r, state: "failed", updatedAt: clock.now(), lastError }));
      return {
        state: "failed" as const,
        durationMs: clock.now() - started,
        step: error.step,
        code: error.code,
      };
    } finally {
      plan.dispose();
    }
    await deps.registry.update(lab, (r) => {
      const { lastError: _dropped, ...rest } = r;
      return { ...rest, state: "ready", updatedAt: clock.now() };
    });
    return { state: "ready" as const, durationMs: clock.now() - started };
  });
  if (!result.locked) return { state: "failed", durationMs: 0, step: "lock", code: "lab_busy" };
  return result.value;
}
