/**
 * A host's lock lives beside the labs' locks: lab names never hold a `:`, so
 * `host:NAME` is no lab's lock.
 */
export function hostLockName(host: string): string {
  return `host:${host}`;
}

/**
 * A host's expiry schedule: `host.NAME`. Lab names never hold a `.`, so the
 * schedule worker tells it from a lab's; and BullMQ job ids (which carry the
 * name) may not hold a `:`.
 */
export function hostScheduleName(host: string): string {
  return `host.${host}`;
}
