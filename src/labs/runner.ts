import { backoff, type Clock } from "../clock.ts";
import { CancelledError, ExternalError, errorCode, isRetryable, LabopsError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { NO_TRACING, type TraceSpan, type Tracing } from "../ports/tracing.ts";
import { DEFAULT_RETRY, type RetryPolicy, type Step, type StepOutputs } from "./steps.ts";

export type { RetryPolicy, Step, StepContext, StepOutputs } from "./steps.ts";

/**
 * Runs a plan: a graph of named steps with dependencies. Steps whose
 * dependencies are done run at the same time; each finished step's outputs
 * are checkpointed before anything depends on them, so a job killed at any
 * point resumes at the first unfinished step. Retries back off exponentially
 * with jitter and never sooner than a server's Retry-After. It knows nothing
 * of the queue: a job processor (jobs/processors) hands it the job's signals
 * and a place to save checkpoints.
 */

export type StepEvent =
  | { type: "started"; step: string; attempt: number; at: number }
  | { type: "retrying"; step: string; attempt: number; delayMs: number; code: string; at: number }
  | { type: "finished"; step: string; durationMs: number; outputs: StepOutputs; at: number }
  | { type: "skipped"; step: string; at: number }
  | {
      type: "failed";
      step: string;
      durationMs: number;
      code: string;
      message: string;
      hint?: string;
      at: number;
    };

export interface Checkpoints {
  /** Steps finished by earlier runs, with their outputs. */
  done: Readonly<Record<string, StepOutputs>>;
  /** Persists a finished step; resolves once it is durable. */
  save(step: string, outputs: StepOutputs, durationMs: number): Promise<void>;
}

export interface RunOptions {
  checkpoints: Checkpoints;
  signal: AbortSignal;
  /**
   * Fired when the process is shutting down: no step starts after it, steps
   * already running finish and are checkpointed, then the run stops with a
   * CancelledError so the job can resume elsewhere. (`signal` aborts steps mid-way.)
   */
  drain?: AbortSignal;
  logger: Logger;
  onEvent?: (event: StepEvent) => void;
  /** Every wait and timestamp of the run (retry back-off, checkpoint patience, event times). */
  clock: Clock;
  random?: () => number;
  /** How long a failing checkpoint save (the store is away) is retried before the run gives up. */
  checkpointPatienceMs?: number;
  /** A span for the plan and one per step (their calls below them); NO_TRACING when absent. */
  tracing?: Tracing;
}

/**
 * A finished step whose checkpoint could not be saved: not the step's fault,
 * so not a step failure. The run stops and the job is retried, resuming from
 * the last checkpoint that was saved (steps are idempotent).
 */
export class CheckpointError extends LabopsError {
  readonly step: string;
  constructor(step: string, cause: unknown) {
    super(
      "checkpoint_failed",
      `Step ${step} finished but its checkpoint could not be saved: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.step = step;
  }
}

export class StepFailedError extends LabopsError {
  readonly step: string;
  readonly hint: string | undefined;
  constructor(step: string, cause: unknown) {
    const message = cause instanceof Error ? cause.message : String(cause);
    super(errorCode(cause), message, { cause });
    this.step = step;
    this.hint = cause instanceof ExternalError ? cause.hint : undefined;
  }
}

export function validatePlan(steps: readonly Step[]): void {
  const names = new Set<string>();
  for (const step of steps) {
    if (names.has(step.name)) throw new Error(`plan: step ${step.name} appears twice`);
    names.add(step.name);
  }
  for (const step of steps) {
    for (const dep of step.dependsOn) {
      if (!names.has(dep)) throw new Error(`plan: ${step.name} depends on unknown step ${dep}`);
    }
  }
  // Kahn's algorithm: a plan with a cycle would never finish.
  const indegree = new Map(steps.map((s) => [s.name, s.dependsOn.length]));
  const queue = steps.filter((s) => s.dependsOn.length === 0).map((s) => s.name);
  let seen = 0;
  while (queue.length > 0) {
    const name = queue.shift() as string;
    seen++;
    for (const s of steps) {
      if (s.dependsOn.includes(name)) {
        const d = (indegree.get(s.name) ?? 0) - 1;
        indegree.set(s.name, d);
        if (d === 0) queue.push(s.name);
      }
    }
  }
  if (seen !== steps.length) throw new Error("plan: the dependencies form a cycle");
}

/** Throttled tries a step may wait out on top of its policy's attempts. */
export const MAX_THROTTLE_WAITS = 60;

function isThrottled(error: unknown): boolean {
  return error instanceof ExternalError && error.status === 429;
}

/** The policy's exponential back-off with equal jitter, never below the server's Retry-After. */
export function retryDelay(
  policy: RetryPolicy,
  attempt: number,
  error: unknown,
  random: () => number,
): number {
  const retryAfter = error instanceof ExternalError ? (error.retryAfterMs ?? 0) : 0;
  return backoff(attempt, { initialMs: policy.initialDelayMs, maxMs: policy.maxDelayMs }, random, retryAfter);
}

/** Runs the plan in its span, `labops.plan`, a child of the job's; each step in a span of its own below it. */
export async function runPlan(
  steps: readonly Step[],
  options: RunOptions,
): Promise<Record<string, StepOutputs>> {
  validatePlan(steps);
  const tracing = options.tracing ?? NO_TRACING;
  const attributes = tracing.enabled
    ? {
        "labops.plan.steps": steps.length,
        "labops.plan.skipped": steps.filter((s) => s.name in options.checkpoints.done).length,
      }
    : {};
  const plan = tracing.startSpan("labops.plan", { attributes });
  try {
    return await tracing.withActive(plan.ref, () => runSteps(steps, options, tracing, plan));
  } catch (error) {
    // Stopped by a drain: the job is handed back and resumes, which is no failure of the plan.
    if (error instanceof CancelledError && options.drain?.aborted) plan.addEvent("drained");
    else plan.recordError(error);
    throw error;
  } finally {
    plan.end();
  }
}

async function runSteps(
  steps: readonly Step[],
  options: RunOptions,
  tracing: Tracing,
  plan: TraceSpan,
): Promise<Record<string, StepOutputs>> {
  const { clock } = options;
  const now = () => clock.now();
  const random = options.random ?? Math.random;
  const emit = (event: StepEvent) => options.onEvent?.(event);
  const outputs: Record<string, StepOutputs> = { ...options.checkpoints.done };
  const done = new Set(Object.keys(outputs));
  const running = new Map<string, Promise<void>>();
  const failures: StepFailedError[] = [];
  let lost: CheckpointError | undefined;
  const patienceMs = options.checkpointPatienceMs ?? 60_000;

  /** Saves a finished step, retrying while the store is away (a Redis restart), within the patience. */
  const save = async (
    step: string,
    result: StepOutputs,
    durationMs: number,
    log: Logger,
    span: TraceSpan,
  ) => {
    const giveUpAt = now() + patienceMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await options.checkpoints.save(step, result, durationMs);
        return;
      } catch (error) {
        if (options.signal.aborted) throw new CancelledError();
        if (now() >= giveUpAt) throw new CheckpointError(step, error);
        const delayMs = Math.min(250 * 2 ** (attempt - 1), 5_000);
        log.warn({ code: errorCode(error), attempt, delayMs }, "step.checkpoint_retrying");
        span.addEvent("checkpoint_retry", { "labops.attempt": attempt, "error.type": errorCode(error) });
        await clock.sleep(delayMs, options.signal);
      }
    }
  };

  for (const step of steps) {
    if (!done.has(step.name)) continue;
    emit({ type: "skipped", step: step.name, at: now() });
    plan.addEvent("skipped", { "labops.step": step.name });
  }

  /** One step across its attempts, in its span (active while the step runs, so its calls are its children). */
  const runStep = async (step: Step): Promise<void> => {
    const span = tracing.startSpan(`labops.step ${step.name}`, {
      parent: plan.ref,
      attributes: { "labops.step": step.name },
    });
    try {
      await tracing.withActive(span.ref, () => attempts(step, span));
    } catch (error) {
      span.recordError(error);
      throw error;
    } finally {
      span.end();
    }
  };

  const attempts = async (step: Step, span: TraceSpan): Promise<void> => {
    const policy = step.retry ?? DEFAULT_RETRY;
    const retryOn = policy.retryOn ?? isRetryable;
    const started = now();
    const log = options.logger.child({ step: step.name });
    let throttles = 0;
    for (let attempt = 1; ; attempt++) {
      if (options.signal.aborted) throw new CancelledError();
      log.info({ attempt }, "step.started");
      emit({ type: "started", step: step.name, attempt, at: now() });
      try {
        const result =
          (await step.run({
            signal: options.signal,
            logger: log,
            attempt,
            outputs,
            output(from, key) {
              const value = outputs[from]?.[key];
              if (value === undefined) throw new Error(`step ${step.name} needs output ${key} of ${from}`);
              return value;
            },
          })) ?? {};
        const durationMs = now() - started;
        await save(step.name, result, durationMs, log, span);
        outputs[step.name] = result;
        done.add(step.name);
        log.info({ durationMs }, "step.finished");
        span.setAttributes({ "labops.step.attempts": attempt });
        emit({ type: "finished", step: step.name, durationMs, outputs: result, at: now() });
        return;
      } catch (error) {
        if (error instanceof CheckpointError) throw error;
        if (error instanceof CancelledError || options.signal.aborted) throw new CancelledError();
        const code = errorCode(error);
        // A 429 is the service asking to wait, not the step failing: it does not use up an attempt
        // (up to MAX_THROTTLE_WAITS of them), so a burst of labs outwaits the subscription's limits.
        const throttled = isThrottled(error) && throttles < MAX_THROTTLE_WAITS;
        if (throttled) throttles += 1;
        if ((throttled || attempt - throttles < policy.attempts) && retryOn(error)) {
          const delayMs = retryDelay(policy, attempt, error, random);
          log.warn({ code, attempt, delayMs: Math.round(delayMs) }, "step.retrying");
          emit({ type: "retrying", step: step.name, attempt, delayMs, code, at: now() });
          span.addEvent("retry", {
            "labops.attempt": attempt,
            "labops.delay_ms": Math.round(delayMs),
            "error.type": code,
          });
          await clock.sleep(delayMs, options.signal);
          continue;
        }
        const failure = new StepFailedError(step.name, error);
        log.warn({ code, attempt }, "step.failed");
        span.setAttributes({ "labops.step.attempts": attempt });
        emit({
          type: "failed",
          step: step.name,
          durationMs: now() - started,
          code,
          message: failure.message,
          ...(failure.hint ? { hint: failure.hint } : {}),
          at: now(),
        });
        throw failure;
      }
    }
  };

  let cancelled = false;
  for (;;) {
    if (!cancelled && failures.length === 0 && !options.signal.aborted && !options.drain?.aborted) {
      for (const step of steps) {
        if (done.has(step.name) || running.has(step.name)) continue;
        if (!step.dependsOn.every((d) => done.has(d))) continue;
        const task = runStep(step).then(
          () => {
            running.delete(step.name);
          },
          (error: unknown) => {
            running.delete(step.name);
            if (error instanceof StepFailedError) failures.push(error);
            else if (error instanceof CheckpointError) {
              lost ??= error;
              cancelled = true;
            } else cancelled = true;
          },
        );
        running.set(step.name, task);
      }
    }
    if (running.size === 0) break;
    // Wait for any running step; independent steps keep running after one fails so their work is kept.
    await Promise.race(running.values());
  }
  if (options.drain?.aborted && failures.length === 0 && steps.some((s) => !done.has(s.name))) {
    throw new CancelledError("The worker is shutting down; the job resumes on another worker.");
  }

  const [failure] = failures;
  if (failure) throw failure;
  if (lost) throw lost;
  if (cancelled || options.signal.aborted) throw new CancelledError();
  const missing = steps.filter((s) => !done.has(s.name)).map((s) => s.name);
  if (missing.length > 0) throw new Error(`plan: steps never became runnable: ${missing.join(", ")}`);
  return outputs;
}
