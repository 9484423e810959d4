import type { Command } from "../../src/commands/types.ts";
import { progressCard } from "../../src/labs/cards.ts";
import { labNames, vaultName } from "../../src/labs/naming.ts";
import type { Step } from "../../src/labs/steps.ts";
import { scaledRetry } from "../../src/labs/timing.ts";
import type { ThreadRef } from "../../src/ports/chat.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import { runPlan, StepFailedError } from "../step-runner.ts";
import type { CommandProcessor, ProcessorContext, ProcessorOutcome } from "../worker.ts";
import type { WorkflowDeps } from "./deps.ts";
import { planRunOptions, withLabLock } from "./lab-create.ts";
import { ProgressReporter } from "./progress.ts";

export const DESTROY_STEPS = [
  { name: "rg-delete", label: "Delete the resource group (cluster, vault, identity, roles)", dependsOn: [] },
  { name: "kv-purge", label: "Purge the soft-deleted Key Vault", dependsOn: ["rg-delete"] },
  { name: "forget", label: "Forget the lab: record, schedules, watch", dependsOn: ["kv-purge"] },
] as const;

function destroyPlan(deps: WorkflowDeps, lab: string, record: LabRecord | undefined): Step[] {
  const names = labNames(lab);
  const location = record?.location ?? deps.settings.location;
  const retry = scaledRetry(
    { attempts: 6, initialDelayMs: 2_000, maxDelayMs: 30_000 },
    deps.settings.timeScale,
  );
  return [
    {
      ...DESTROY_STEPS[0],
      retry,
      async run({ signal }) {
        await deps.azure.deleteResourceGroup(names.resourceGroup, signal);
        return {};
      },
    },
    {
      ...DESTROY_STEPS[1],
      retry,
      async run({ signal }) {
        // Without a purge the global name stays taken for 90 days.
        const known = record?.outputs.vaultName;
        const candidates = known
          ? [known]
          : Array.from({ length: 5 }, (_, i) => vaultName(deps.settings.subscriptionId, lab, i));
        const purged: string[] = [];
        for (const name of candidates) {
          if (await deps.azure.purgeDeletedVault(name, location, signal)) purged.push(name);
        }
        return { purged: purged.join(",") };
      },
    },
    {
      ...DESTROY_STEPS[2],
      async run() {
        await deps.scheduler.cancel(lab);
        // The watcher let the lab go when it turned "destroying"; what it kept of it goes too.
        await deps.watchState.delete(lab);
        await deps.registry.delete(lab);
        return {};
      },
    },
  ];
}

export function labDestroyProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx: ProcessorContext) => {
    const command = ctx.envelope.command as Extract<Command, { kind: "lab.destroy" }>;
    const { origin } = ctx.envelope;
    const holder = `job-${ctx.job.id ?? ctx.envelope.deliveryId}`;
    const result = await withLabLock(deps, command.lab, holder, ctx.signal, () =>
      destroy(ctx, deps, command.lab),
    );
    if (result.locked) return result.value;
    await ctx.chat.notify(
      origin.address,
      origin.user,
      `Lab \`${command.lab}\` is busy with another command (${result.holder ?? "unknown"}); destroy it once that finishes.`,
    );
    return { failed: "lab_busy" };
  };
}

async function destroy(ctx: ProcessorContext, deps: WorkflowDeps, lab: string): Promise<ProcessorOutcome> {
  const { origin, correlationId } = ctx.envelope;
  const record = await deps.registry.get(lab);
  if (!record) {
    const rg = await deps.azure.getResourceGroup(labNames(lab).resourceGroup, ctx.signal);
    if (!rg) {
      await ctx.chat.notify(
        origin.address,
        origin.user,
        `There is no lab \`${lab}\`. Say \`lab list\` to see the labs.`,
      );
      return;
    }
  } else {
    await deps.registry.update(lab, (r) => ({
      ...r,
      state: "destroying",
      updatedAt: deps.now(),
      jobId: String(ctx.job.id),
    }));
  }

  const startedAt = deps.now();
  const view = {
    lab,
    verb: "destroy" as const,
    status: "running" as const,
    steps: DESTROY_STEPS.map((s) => ({ name: s.name, label: s.label, state: "pending" as const })),
    correlationId,
    startedAt,
    now: startedAt,
  };
  // A retried job keeps its own thread: it is saved in the job before anything else happens.
  let thread = ctx.saved.thread as ThreadRef | undefined;
  if (!thread) {
    thread = await ctx.chat.openThread(record?.address ?? origin.address, progressCard(view));
    await ctx.checkpoint({ thread });
  }
  const progress = new ProgressReporter({ chat: ctx.chat, thread, logger: ctx.logger, view });
  if (record?.thread) {
    await ctx.chat
      .reply(
        record.thread,
        `Being destroyed by ${origin.user.name ?? origin.user.id} (ref ${correlationId}).`,
      )
      .catch(() => undefined);
  }

  const done = (ctx.saved.destroySteps ?? {}) as Record<string, Record<string, string>>;
  try {
    await runPlan(
      destroyPlan(deps, lab, record),
      planRunOptions(ctx, deps, progress, {
        done,
        async save(step, outputs) {
          done[step] = outputs;
          await ctx.checkpoint({ destroySteps: { ...done } });
        },
      }),
    );
  } catch (error) {
    if (error instanceof StepFailedError) {
      await deps.registry.update(lab, (r) => ({
        ...r,
        state: "failed",
        updatedAt: deps.now(),
        lastError: { step: error.step, code: error.code, message: error.message },
      }));
      progress.update({
        status: "failed",
        error: {
          step: error.step,
          code: error.code,
          message: error.message,
          ...(error.hint ? { hint: error.hint } : {}),
        },
      });
      progress.reply(
        `Destroy stopped at *${error.step}* (\`${error.code}\`). Say \`lab destroy ${lab}\` again to resume.`,
      );
      await progress.flush();
      return { failed: error.code };
    }
    throw error;
  }
  progress.update({ status: "succeeded" });
  progress.reply(`Lab \`${lab}\` is gone: its resource group is deleted and its vault purged.`);
  await progress.flush();
  return undefined;
}
