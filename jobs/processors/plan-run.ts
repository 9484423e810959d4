import type { Checkpoints, RunOptions, StepEvent } from "../../src/labs/runner.ts";
import type { StepOutputs } from "../../src/labs/steps.ts";
import type { ProcessorContext } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import type { ProgressReporter } from "./progress.ts";

function recordStepMetric(deps: Pick<WorkflowDeps, "metrics">, event: StepEvent): void {
  if (event.type === "finished") deps.metrics.stepFinished(event.step, "done", event.durationMs / 1000);
  else if (event.type === "failed") deps.metrics.stepFinished(event.step, "failed", event.durationMs / 1000);
  else if (event.type === "retrying") deps.metrics.stepFinished(event.step, "retry", 0);
}

/** How every lab plan runs: the job's cancellation and logger, the card, the metrics, its checkpoints. */
export function planRunOptions(
  ctx: ProcessorContext,
  deps: Pick<WorkflowDeps, "metrics" | "clock" | "tracing">,
  progress: ProgressReporter,
  checkpoints: Checkpoints,
): RunOptions {
  return {
    signal: ctx.signal,
    drain: ctx.drain,
    logger: ctx.logger,
    clock: deps.clock,
    onEvent: (event) => {
      progress.onEvent(event);
      recordStepMetric(deps, event);
    },
    checkpoints,
    ...(deps.tracing ? { tracing: deps.tracing } : {}),
  };
}

/**
 * A plan's checkpoints kept in the job itself, under `key` of its saved state
 * (for plans whose record is gone or shared, such as a destroy): `done` is
 * what earlier attempts finished, and each step finished is saved at once.
 */
export function jobCheckpoints(
  ctx: ProcessorContext,
  key: string,
): Checkpoints & { done: Record<string, StepOutputs> } {
  const done = { ...((ctx.saved[key] ?? {}) as Record<string, StepOutputs>) };
  return {
    done,
    async save(step, outputs) {
      done[step] = outputs;
      await ctx.checkpoint({ [key]: { ...done } });
    },
  };
}

/** The steps a record says are finished, as a plan's `done`: each step's outputs by its name. */
export function recordedSteps(
  steps: Readonly<Record<string, { outputs: StepOutputs }>> | undefined,
): Record<string, StepOutputs> {
  const done: Record<string, StepOutputs> = {};
  for (const [name, s] of Object.entries(steps ?? {})) done[name] = s.outputs;
  return done;
}
