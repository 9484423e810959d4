import type { Condition, KubeObject, OwnerReference, Pod } from "../types.ts";

/** Pod helpers shared by the controllers, as in k8s.io/kubernetes/pkg/api/v1/pod. */

export function podCondition(pod: Pod, type: string): Condition | undefined {
  return pod.status?.conditions?.find((c) => c.type === type);
}

export function isPodReady(pod: Pod): boolean {
  return podCondition(pod, "Ready")?.status === "True";
}

/** Ready for at least minReadySeconds. */
export function isPodAvailable(pod: Pod, minReadySeconds: number, now: number): boolean {
  const ready = podCondition(pod, "Ready");
  if (ready?.status !== "True") return false;
  if (minReadySeconds <= 0) return true;
  const since = Date.parse(ready.lastTransitionTime ?? "");
  return Number.isFinite(since) && since + minReadySeconds * 1000 <= now;
}

/** Counted by ReplicaSets: not terminating and not finished. */
export function isPodActive(pod: Pod): boolean {
  return (
    pod.metadata.deletionTimestamp === undefined &&
    pod.status?.phase !== "Succeeded" &&
    pod.status?.phase !== "Failed"
  );
}

export function controllerRef(o: KubeObject): OwnerReference | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller === true);
}

function phaseRank(p: Pod): number {
  const phase = p.status?.phase;
  return phase === "Pending" ? 0 : phase === "Unknown" ? 1 : phase === "Running" ? 2 : 3;
}

function restarts(p: Pod): number {
  return (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
}

/**
 * Order in which a ReplicaSet gives up pods when it scales down: unscheduled
 * before scheduled, pending before running, not ready before ready, more
 * restarts first, newer first.
 */
export function deletionOrder(a: Pod, b: Pod): number {
  const sa = a.spec?.nodeName ? 1 : 0;
  const sb = b.spec?.nodeName ? 1 : 0;
  if (sa !== sb) return sa - sb;
  const pa = phaseRank(a);
  const pb = phaseRank(b);
  if (pa !== pb) return pa - pb;
  const ra = isPodReady(a) ? 1 : 0;
  const rb = isPodReady(b) ? 1 : 0;
  if (ra !== rb) return ra - rb;
  const xa = restarts(a);
  const xb = restarts(b);
  if (xa !== xb) return xb - xa;
  const ca = Date.parse(a.metadata.creationTimestamp ?? "");
  const cb = Date.parse(b.metadata.creationTimestamp ?? "");
  return cb - ca;
}
