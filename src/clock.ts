import { CancelledError } from "./errors.ts";

/**
 * The one seam for time. Product code never calls `Date.now()`, `setTimeout`
 * or `setInterval` itself: it is handed a Clock by the composition root
 * (`systemClock` in production, `ManualClock` from test/fakes in unit tests,
 * which moves only when a test advances it).
 *
 * `timeScale` is LABOPS_TIME_SCALE: how many times faster than Azure the world
 * runs (1 against real Azure; 10 or more against the emulators). Waits that
 * stand for Azure's pace (a poll interval, a lab's lifetime) are divided by it
 * with `scaled`; a server's Retry-After and wall-clock guards never are.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`; rejects with CancelledError as soon as `signal` fires (at once if it already has). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Calls `fn` once after `ms`. The returned function cancels it (harmless
   * after it fired). With `unref`, the timer alone does not keep the process
   * running (a guard on something that itself does, such as a socket).
   */
  timeout(fn: () => void, ms: number, options?: { unref?: boolean }): Cancel;
  /** Calls `fn` every `ms` until cancelled. */
  interval(fn: () => void, ms: number): Cancel;
  /** LABOPS_TIME_SCALE (1 = real time). */
  readonly timeScale: number;
  /** A duration in Azure's time, as this world waits it: `ms / timeScale`. */
  scaled(ms: number): number;
}

export type Cancel = () => void;

/** Wall-clock time, optionally sped up (waits divided by `timeScale`, `now()` unchanged). */
export function systemClock(timeScale = 1): Clock {
  if (!(timeScale > 0) || !Number.isFinite(timeScale))
    throw new RangeError(`timeScale must be > 0, got ${timeScale}`);
  return {
    now: () => Date.now(),
    sleep: (ms, signal) =>
      sleepOn(ms, signal, (fn, wait) => {
        const t = setTimeout(fn, wait);
        return () => clearTimeout(t);
      }),
    timeout(fn, ms, options) {
      const t = setTimeout(fn, ms);
      if (options?.unref) t.unref();
      return () => clearTimeout(t);
    },
    interval(fn, ms) {
      const t = setInterval(fn, ms);
      return () => clearInterval(t);
    },
    timeScale,
    scaled: (ms) => ms / timeScale,
  };
}

/** The cancellable sleep every Clock shares, over its own `timeout`. */
export function sleepOn(
  ms: number,
  signal: AbortSignal | undefined,
  timeout: (fn: () => void, ms: number) => Cancel,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new CancelledError());
      return;
    }
    const onAbort = () => {
      cancel();
      reject(new CancelledError());
    };
    const cancel = timeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/**
 * Exponential back-off with equal jitter: half of the capped exponential is
 * fixed, half random, so replicas spread out and no retry comes near-instantly.
 * `attempt` counts from 1 (the wait after the first failure). Never sooner
 * than a server's Retry-After (`retryAfterMs`), which is never scaled.
 */
export function backoff(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number,
  retryAfterMs = 0,
): number {
  const cap = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(cap / 2 + random() * (cap / 2), retryAfterMs);
}
