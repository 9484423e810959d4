/**
 * A host's lock lives beside the labs' locks: lab names never hold a `:`, so
 * `host:NAME` is no lab's lock.
 */
export function hostLockName(host: string): string {
  return `host:${host}`;
}

/** A host's expiry schedule: `host:NAME` (the schedule worker tells it from a lab's by the `:`). */
export function hostScheduleName(host: string): string {
  return `host:${host}`;
}
