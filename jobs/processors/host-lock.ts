/**
 * A host's lock lives beside the labs' locks: lab names never hold a `:`, so
 * `host:NAME` is no lab's lock.
 */
export function hostLockName(host: string): string {
  return `host:${host}`;
}
