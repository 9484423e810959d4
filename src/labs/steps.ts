import type { Logger } from "../log.ts";

/**
 * The shape of a plan's steps. The runner lives beside them (runner.ts); the
 * lab's plans (create-plan.ts, destroy-plan.ts) are written against these
 * types only.
 */

export type StepOutputs = Record<string, string>;

export interface RetryPolicy {
  /** Total tries, the first included. */
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Which failures are worth another try; defaults to errors marked retryable. */
  retryOn?: (error: unknown) => boolean;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, initialDelayMs: 1_000, maxDelayMs: 30_000 };

export interface StepContext {
  signal: AbortSignal;
  logger: Logger;
  /** 1 on the first try. */
  attempt: number;
  /** Outputs of every finished step, this run's and earlier runs'. */
  outputs: Readonly<Record<string, StepOutputs>>;
  /** Output `key` of step `step`; throws when a dependency did not produce it. */
  output(step: string, key: string): string;
}

export interface Step {
  name: string;
  label: string;
  dependsOn: readonly string[];
  run(context: StepContext): Promise<StepOutputs | undefined>;
  retry?: RetryPolicy;
}
