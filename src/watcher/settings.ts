import { DEFAULT_DEADLINES, type Deadlines } from "./stuck.ts";

/**
 * The watcher's waits. Every one is scaled by LABOPS_TIME_SCALE (emulated
 * worlds run faster) and keeps a real-time floor where going below it would
 * be wrong rather than merely fast: a lease shorter than a few Redis round
 * trips and event-loop stalls changes hands for nothing, a deadline shorter
 * than watch latency reports healthy rotations as stuck, and a restart report
 * more often than twice a minute is noise whatever the time scale.
 */
export interface WatcherSettings {
  timeScale: number;
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

const scaled = (ms: number, scale: number, floor: number) => Math.max(floor, Math.round(ms / scale));

export function watcherSettings(
  timeScale: number,
  overrides: Partial<WatcherSettings> = {},
): WatcherSettings {
  const leaseTtlMs = overrides.leaseTtlMs ?? scaled(20_000, timeScale, 5_000);
  return {
    timeScale,
    leaseTtlMs,
    renewEveryMs: Math.max(250, Math.floor(leaseTtlMs / 3)),
    scanMs: scaled(5_000, timeScale, 250),
    vaultPollMs: scaled(10_000, timeScale, 500),
    tickMs: scaled(1_000, timeScale, 100),
    deadlines: DEFAULT_DEADLINES,
    deadlineFloorMs: 10_000,
    restartGatherMs: scaled(30_000, timeScale, 1_000),
    restartWindowMs: scaled(15 * 60_000, timeScale, 30_000),
    threadGraceMs: scaled(60_000, timeScale, 5_000),
    giveUpMs: scaled(60 * 60_000, timeScale, 120_000),
    retryInitialMs: scaled(2_000, timeScale, 250),
    retryMaxMs: scaled(60_000, timeScale, 5_000),
    ...overrides,
  };
}
