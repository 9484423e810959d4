import { verbatim } from "../../src/chat/markup.ts";
import type { Command } from "../../src/commands/types.ts";
import { createDestroyPlan, destroySteps } from "../../src/labs/destroy-plan.ts";
import {
  destroyedLabCard,
  destroyedWhat,
  destroyingLabCard,
  destroyStoppedLabCard,
} from "../../src/labs/lab-card.ts";
import { labArg, shownLabName } from "../../src/labs/names.ts";
import { labNamesOf } from "../../src/labs/naming.ts";
import { runPlan, StepFailedError } from "../../src/labs/runner.ts";
import type { Card } from "../../src/ports/chat.ts";
import type { CommandProcessor, ProcessorContext, ProcessorOutcome } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { lockHolder, withLabLock } from "./lab-lock.ts";
import { jobCheckpoints, planRunOptions } from "./plan-run.ts";
import { progressInJobThread } from "./progress.ts";

/**
 * `lab destroy NAME` (confirmed, or the expiry's): runs the destroy plan
 * (src/labs/destroy-plan.ts) under the lab's lock, its steps checkpointed in
 * the job, so a retried job resumes where it stopped.
 */
export function labDestroyProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx: ProcessorContext) => {
    const command = ctx.envelope.command as Extract<Command, { kind: "lab.destroy" }>;
    const { origin } = ctx.envelope;
    const holder = lockHolder(ctx.jobId);
    const result = await withLabLock(deps, command.lab, holder, ctx.signal, () =>
      destroy(ctx, deps, command.lab),
    );
    if (result.locked) return result.value;
    await ctx.chat.notify(
      origin.address,
      origin.user,
      `Lab \`${verbatim(shownLabName(command.lab))}\` is busy with another command (${verbatim(result.holder ?? "unknown")}); destroy it once that finishes.`,
    );
    return { failed: "lab_busy" };
  };
}

async function destroy(ctx: ProcessorContext, deps: WorkflowDeps, lab: string): Promise<ProcessorOutcome> {
  const { origin, correlationId } = ctx.envelope;
  const record = await deps.registry.get(lab);
  if (!record) {
    const rg = await deps.azure.getResourceGroup(labNamesOf({ name: lab }).resourceGroup, ctx.signal);
    if (!rg) {
      await ctx.chat.notify(
        origin.address,
        origin.user,
        `There is no lab \`${verbatim(lab)}\`. Say \`lab list\` to see the labs.`,
      );
      return;
    }
  } else {
    await deps.registry.update(lab, (r) => ({
      ...r,
      state: "destroying",
      updatedAt: deps.clock.now(),
      jobId: ctx.jobId,
    }));
  }

  const startedAt = deps.clock.now();
  const view = {
    lab,
    verb: "destroy" as const,
    status: "running" as const,
    steps: destroySteps(record?.host !== undefined).map((s) => ({
      name: s.name,
      label: s.label,
      state: "pending" as const,
    })),
    correlationId,
    startedAt,
    now: startedAt,
    timeScale: deps.clock.timeScale,
  };
  const progress = await progressInJobThread(ctx, deps.clock, record?.address ?? origin.address, view);
  // The lab's create card loses its buttons and says what is happening to the lab, then what happened.
  const facts = {
    by: origin.user.name ?? origin.user.id,
    timeScale: deps.clock.timeScale,
    ...(record?.correlationId ? { labRef: record.correlationId } : {}),
    ...(record?.host ? { host: record.host } : {}),
  };
  const labCard = async (card: Card) => {
    if (!record?.thread) return;
    await ctx.chat.updateCard(record.thread, card).catch((error: unknown) => {
      ctx.logger.warn({ err: error instanceof Error ? error.message : String(error) }, "chat.update_failed");
    });
  };
  await labCard(destroyingLabCard(lab, facts));
  if (record?.thread) {
    await ctx.chat
      .reply(
        record.thread,
        `Being destroyed by ${verbatim(origin.user.name ?? origin.user.id)} (ref ${verbatim(correlationId)}).`,
      )
      .catch(() => undefined);
  }

  const checkpoints = jobCheckpoints(ctx, "destroySteps");
  try {
    await runPlan(
      createDestroyPlan(
        {
          lab,
          location: record?.location ?? deps.settings.location,
          subscriptionId: deps.settings.subscriptionId,
          vaultName: record?.outputs.vaultName,
          host: record?.host,
        },
        deps,
      ),
      planRunOptions(ctx, deps, progress, checkpoints),
    );
  } catch (error) {
    if (error instanceof StepFailedError) {
      await deps.registry.update(lab, (r) => ({
        ...r,
        state: "failed",
        updatedAt: deps.clock.now(),
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
        `Destroy stopped at *${verbatim(error.step)}* (\`${verbatim(error.code)}\`). Say \`lab destroy ${labArg(lab)}\` again to resume.`,
      );
      await progress.flush();
      await labCard(destroyStoppedLabCard(lab, { ...facts, step: error.step, code: error.code }));
      return { failed: error.code };
    }
    // Cancelled or drained: the card stops ticking and what is queued goes out before another worker resumes.
    await progress.flush();
    throw error;
  }
  progress.update({ status: "succeeded" });
  progress.reply(
    checkpoints.done["rg-delete"]?.skipped
      ? `Lab \`${verbatim(shownLabName(lab))}\` is forgotten. Its name is not one Azure takes, so nothing was ever created in Azure under it: nothing is left.`
      : `Lab \`${verbatim(shownLabName(lab))}\` is gone: ${destroyedWhat(lab, record?.host)}.`,
  );
  await progress.flush();
  await labCard(destroyedLabCard(lab, deps.clock.now(), facts));
  return undefined;
}
