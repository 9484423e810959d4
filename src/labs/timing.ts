/**
 * LABOPS_TIME_SCALE divides the bot's waits to match emulators that run
 * faster than Azure. Polling intervals scale freely; deadlines keep a
 * real-time floor, because HTTP round trips and CPU do not get faster with
 * the time scale, and a deadline shorter than them would report healthy work
 * as stuck.
 */
export function scaledInterval(ms: number, timeScale: number): number {
  return Math.max(1, Math.round(ms / timeScale));
}

export const DEADLINE_FLOOR_MS = 30_000;

export function scaledDeadline(ms: number, timeScale: number): number {
  return Math.max(Math.round(ms / timeScale), Math.min(ms, DEADLINE_FLOOR_MS));
}

/** A retry policy with its delays scaled like every other wait. */
export function scaledRetry<T extends { initialDelayMs: number; maxDelayMs: number }>(
  policy: T,
  timeScale: number,
): T {
  return {
    ...policy,
    initialDelayMs: scaledInterval(policy.initialDelayMs, timeScale),
    maxDelayMs: scaledInterval(policy.maxDelayMs, timeScale),
  };
}

/**
 * A polling period: scaled, but never below 100 ms, so that a fast emulated
 * world is not polled in a busy loop that starves the very thing it waits for.
 */
export function scaledPoll(ms: number, timeScale: number): number {
  return Math.max(100, Math.round(ms / timeScale));
}

/** A Go-style duration of the CSI addon ("1m", "90s", "2m0s") as milliseconds; the addon's default when unreadable. */
export function rotationPollMs(text: string): number {
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(h|m|s)/g)) {
    ms += Number(m[1]) * (m[2] === "h" ? 3_600_000 : m[2] === "m" ? 60_000 : 1_000);
  }
  return ms || 120_000;
}
