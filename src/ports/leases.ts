/**
 * Named leases with expiry: one holder at a time, renewed by its holder; a
 * holder that dies stops renewing and its lease lapses, so another can take
 * it. One port serves the lab lock (a job working on a lab) and the rotation
 * watcher's lease per lab, each user in its own namespace. What a lease
 * guards may be fenced by it: the watcher's state store writes only for the
 * current holder (see WatchStateStore).
 */
export interface Leases {
  /** True when `holder` now holds `name`: it was free or lapsed, or `holder` had it already (then it is extended to `ttlMs`). */
  acquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Extends the lease to `ttlMs` from now; false when `holder` no longer has it (taken, released or lapsed). */
  renew(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `holder` has it; anyone else's release changes nothing. */
  release(name: string, holder: string): Promise<void>;
  /** The current holder; undefined when free or lapsed. */
  holder(name: string): Promise<string | undefined>;
}
