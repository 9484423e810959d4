import type { Command } from "../../src/commands/types.ts";
import { LabopsError } from "../../src/errors.ts";
import { createDestroyPlan } from "../../src/labs/destroy-plan.ts";
import { createHostDestroyPlan, HOST_DESTROY_STEPS } from "../../src/labs/host-plan.ts";
import { hostNames } from "../../src/labs/naming.ts";
import { runPlan, StepFailedError } from "../../src/labs/runner.ts";
import type { Step } from "../../src/labs/steps.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import type { CommandProcessor, ProcessorContext, ProcessorOutcome } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { hostLockName } from "./host-lock.ts";
import { labsOn } from "./host-status.ts";
import { lockHolder, withLabLock } from "./lab-lock.ts";
import { jobCheckpoints, planRunOptions } from "./plan-run.ts";
import { progressInJobThread } from "./progress.ts";

type HostDestroy = Extract<Command, { kind: "host.destroy" }>;

/**
 * `host destroy NAME [--force]` (admins, confirmed): refused while labs live
 * on the host; with `--force` each of them is destroyed first (its namespace,
 * resource group and vault, under its own lock), then the host's resource
 * group goes and the host is forgotten.
 */
export function hostDestroyProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx: ProcessorContext) => {
    const command = ctx.envelope.command as HostDestroy;
    const { origin } = ctx.envelope;
    const result = await withLabLock(
      deps,
      hostLockName(command.host),
      lockHolder(ctx.jobId),
      ctx.signal,
      () => destroy(ctx, deps, command),
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

async function destroy(
  ctx: ProcessorContext,
  deps: WorkflowDeps,
  command: HostDestroy,
): Promise<ProcessorOutcome> {
  const { origin, correlationId } = ctx.envelope;
  const { host } = command;
  const record = await deps.hosts.get(host);
  if (!record && !(await deps.azure.getResourceGroup(hostNames(host).resourceGroup, ctx.signal))) {
    await ctx.chat.notify(
      origin.address,
      origin.user,
      `There is no host \`${host}\`. Say \`host status\` to see the hosts.`,
    );
    return;
  }
  const labs = labsOn(host, await deps.registry.list());
  if (labs.length > 0 && !command.force) {
    await ctx.chat.notify(
      origin.address,
      origin.user,
      `Host \`${host}\` still has ${labs.length} lab${labs.length === 1 ? "" : "s"} (${labs.map((l) => `\`${l.name}\``).join(", ")}). Destroy them first, or say \`host destroy ${host} --force\` to destroy them with it.`,
    );
    return { failed: "host_in_use" };
  }
  await deps.hosts.update(host, (r) => ({
    ...r,
    state: "destroying",
    updatedAt: deps.clock.now(),
    jobId: ctx.jobId,
  }));

  const labsStep: Step = {
    name: "labs",
    label: "Destroy the labs on the host",
    dependsOn: [],
    run: async ({ signal, logger }) => {
      const gone = await Promise.all(
        labsOn(host, await deps.registry.list()).map((lab) => destroyLab(ctx, deps, lab, signal, logger)),
      );
      return { labs: gone.join(",") };
    },
  };
  const [rgDelete, forget] = createHostDestroyPlan(host, { ...deps, hosts: deps.hosts });
  const steps: Step[] = [
    labsStep,
    ...(rgDelete ? [{ ...rgDelete, dependsOn: ["labs"] }] : []),
    ...(forget ? [forget] : []),
  ];

  const startedAt = deps.clock.now();
  const view = {
    lab: host,
    noun: "Host",
    verb: "destroy" as const,
    status: "running" as const,
    steps: [{ name: "labs", label: labsStep.label }, ...HOST_DESTROY_STEPS].map((s) => ({
      name: s.name,
      label: s.label,
      state: "pending" as const,
    })),
    correlationId,
    startedAt,
    now: startedAt,
  };
  const progress = await progressInJobThread(ctx, deps.clock, origin.address, view);
  const checkpoints = jobCheckpoints(ctx, "hostDestroySteps");
  try {
    await runPlan(steps, planRunOptions(ctx, deps, progress, checkpoints));
  } catch (error) {
    if (!(error instanceof StepFailedError)) throw error;
    const failure = { step: error.step, code: error.code, message: error.message };
    await deps.hosts.update(host, (r) => ({
      ...r,
      state: "failed",
      updatedAt: deps.clock.now(),
      lastError: failure,
    }));
    progress.update({ status: "failed", error: { ...failure, ...(error.hint ? { hint: error.hint } : {}) } });
    progress.reply(
      `Destroy stopped at *${error.step}* (\`${error.code}\`). Say \`host destroy ${host} --force\` again to resume.`,
    );
    await progress.flush();
    return { failed: error.code };
  }
  progress.update({ status: "succeeded" });
  progress.reply(`Host \`${host}\` is gone: its resource group and cluster are deleted.`);
  await progress.flush();
  return undefined;
}

/** One lab of a host destroyed by `--force`: its own destroy plan, under its own lock; its thread is told. */
export async function destroyLab(
  ctx: ProcessorContext,
  deps: WorkflowDeps,
  lab: LabRecord,
  signal: AbortSignal,
  logger: ProcessorContext["logger"],
): Promise<string> {
  const holder = `${lockHolder(ctx.jobId)}-${lab.name}`;
  const result = await withLabLock(deps, lab.name, holder, signal, async () => {
    await deps.registry.update(lab.name, (r) => ({ ...r, state: "destroying", updatedAt: deps.clock.now() }));
    if (lab.thread) {
      await ctx.chat
        .reply(
          lab.thread,
          `Being destroyed with its host \`${lab.host ?? ""}\` (ref ${ctx.envelope.correlationId}).`,
        )
        .catch(() => undefined);
    }
    const plan = createDestroyPlan(
      {
        lab: lab.name,
        location: lab.location,
        subscriptionId: deps.settings.subscriptionId,
        vaultName: lab.outputs.vaultName,
        host: lab.host,
      },
      deps,
    );
    await runPlan(plan, {
      signal,
      logger: logger.child({ lab: lab.name }),
      clock: deps.clock,
      checkpoints: { done: {}, save: async () => {} },
    });
  });
  if (!result.locked) {
    throw new LabopsError(
      "lab_busy",
      `Lab ${lab.name} is busy with another command; try again once it finishes.`,
    );
  }
  return lab.name;
}
