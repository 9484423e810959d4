import { backoff, type Clock } from "../clock.ts";
import { DEFAULT_DEADLINES, type Deadlines } from "./stuck.ts";

/**
 * The watcher's waits. Every one is scaled by LABOPS_TIME_SCALE (emulated
 * worlds run faster) and keeps a real-time floor where going below it would
 * be wrong rather than merely fast: a lease shorter than a few Redis round
 * trips and event-loop stalls changes hands for nothing, a deadline shorter
 * than watch latency reports healthy rotations as stuck, and a restart report
 * more often than twice a minute is noise whatever the time scale. The time
 * scale is the clock's: the settings are derived from it, and the deadlines
 * the watcher computes later divide by the same one.
 */
export interface WatcherSettings {
  /** Lease per lab: a dead owner's labs are taken over within leaseTtlMs + scanMs (30 s at most in real time). */
  leaseTtlMs: number;
  renewEveryMs: number;
  /** How often each replica looks for labs to watch (or to let go). */
  scanMs: number;
  /**
   * Vault poll per lab: list + current version of each secret, 3 requests for
   * a lab's two secrets every 10 s, against Key Vault's 4,000 per vault per
   * 10 s. A rotate command (through a nudge) and a synced-Secret change both
   * trigger a poll at once, so the interval only bounds how late an outside
   * change with no cluster effect (rotation disabled) is noticed.
   */
  vaultPollMs: number;
  /** Deadline checks, restart gathering and trace settling. */
  tickMs: number;
  deadlines: Deadlines;
  deadlineFloorMs: number;
  /** Restarts seen within this of the first are folded into one report. */
  restartGatherMs: number;
  /** At most one restart thread per lab per window; later restarts update its card. */
  restartWindowMs: number;
  /**
   * How long a version labops wrote waits for its rotate command's thread
   * before its alerts go to a thread of their own (the command writes first,
   * then opens its thread, paced by the chat's limits).
   */
  threadGraceMs: number;
  /** A stuck trace is dropped after this, with a last word in its thread. */
  giveUpMs: number;
  /** Back-off after a failing vault poll or cluster call. */
  retryInitialMs: number;
  retryMaxMs: number;
}

export function watcherSettings(
  clock: Pick<Clock, "scaled">,
  overrides: Partial<WatcherSettings> = {},
): WatcherSettings {
  const scaled = (ms: number, floor: number) => Math.max(floor, Math.round(clock.scaled(ms)));
  const leaseTtlMs = overrides.leaseTtlMs ?? scaled(20_000, 5_000);
  return {
    leaseTtlMs,
    renewEveryMs: Math.max(250, Math.floor(leaseTtlMs / 3)),
    scanMs: scaled(5_000, 250),
    vaultPollMs: scaled(10_000, 500),
    tickMs: scaled(1_000, 100),
    deadlines: DEFAULT_DEADLINES,
    deadlineFloorMs: 10_000,
    restartGatherMs: scaled(30_000, 1_000),
    restartWindowMs: scaled(15 * 60_000, 30_000),
    threadGraceMs: scaled(60_000, 5_000),
    giveUpMs: scaled(60 * 60_000, 120_000),
    retryInitialMs: scaled(2_000, 250),
    retryMaxMs: scaled(60_000, 5_000),
    ...overrides,
  };
}

/** The wait after the `attempt`-th failure in a row of a vault poll, a cluster call or an alert. */
export function retryDelay(settings: WatcherSettings, attempt: number, random: () => number): number {
  return Math.round(
    backoff(attempt, { initialMs: settings.retryInitialMs, maxMs: settings.retryMaxMs }, random),
  );
}
