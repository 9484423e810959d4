/** How versions are shown in chat: the first eight characters. */
export function shortVersion(version: string): string {
  return version.slice(0, 8);
}

/** Who changed a version, from the tags labops writes; anything else came from outside labops. */
export function changedBy(tags: Record<string, string>): string {
  return tags["labops-by"] ? `labops (${tags["labops-by"]})` : "outside labops";
}
