import type { Clock } from "../../src/clock.ts";
import type { Leases } from "../../src/ports/leases.ts";
import type { WorkflowSettings } from "./deps.ts";

/** How long a command waits for a lab another job holds before it is turned away. */
const LOCK_WAIT_MS = 15_000;
const LOCK_POLL_MS = 250;

/**
 * Runs `work` while holding the lab's lock, renewed so that only a dead
 * worker loses it. A command that follows another closely (a retry pressed
 * as the failure is posted) waits a little for the lock instead of being
 * turned away. These are wall-clock guards, not Azure's pace: never scaled.
 */
export async function withLabLock<T>(
  deps: { locks: Leases; clock: Clock; settings: Pick<WorkflowSettings, "lockTtlMs"> },
  lab: string,
  holder: string,
  signal: AbortSignal,
  work: () => Promise<T>,
): Promise<{ locked: true; value: T } | { locked: false; holder: string | undefined }> {
  const { clock, locks } = deps;
  const ttl = deps.settings.lockTtlMs;
  const giveUpAt = clock.now() + LOCK_WAIT_MS;
  while (!(await locks.acquire(lab, holder, ttl))) {
    if (clock.now() > giveUpAt || signal.aborted) return { locked: false, holder: await locks.holder(lab) };
    // Cancelled mid-wait: the loop sees the signal and gives up like a timeout.
    await clock.sleep(LOCK_POLL_MS, signal).catch(() => undefined);
  }
  const stopRenewing = clock.interval(
    () => {
      if (signal.aborted) return;
      locks.renew(lab, holder, ttl).catch(() => undefined);
    },
    Math.max(LOCK_POLL_MS, ttl / 3),
  );
  try {
    return { locked: true, value: await work() };
  } finally {
    stopRenewing();
    await locks.release(lab, holder).catch(() => undefined);
  }
}

/** The lock holder's name for a job: what `lab status` and a refused command show. */
export function lockHolder(jobId: string): string {
  return `job-${jobId}`;
}
