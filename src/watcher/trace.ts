import type { ThreadRef } from "../ports/chat.ts";

/**
 * A rotation trace: one new secret version followed hop by hop from the vault
 * to every pod. Pure state: the watcher feeds it observations (from vault
 * polls and cluster informers) and asks which hop it waits for. Times are
 * epoch ms. When a pending hop is late and why is in stuck.ts; what is said
 * about a trace, in alerts.ts.
 *
 * Hops, in the order the lab's machinery makes them happen:
 *   set      the version exists in Key Vault (its createdOn)
 *   synced   the CSI driver rewrote the synced Secret (v1.5's rotation reconciler, or
 *            v1.6's pod status controller after the kubelet's republish re-fetched it)
 *   reloaded Reloader patched the deployment's pod template
 *   rollout  a new ReplicaSet for that template exists
 *   ready    every pod of the new ReplicaSet is Ready (and no old pod is left)
 *   mounted  every one of those pods' SecretProviderClassPodStatus shows the version
 *
 * Observations carry histories (every change time the watcher saw), not
 * snapshots: the vault poll may notice a version after the cluster already
 * acted on it, and each resource arrives on its own watch stream, so events
 * of one rotation can arrive in any order. A hop is the first change at or
 * after the hop before it; hop times are made monotonic along the chain.
 *
 * Two shorter paths: a secret the synced Secret does not carry is rotated in
 * place by the driver (no restart; complete when every pod mounts it), and a
 * secret no pod mounts has nothing to follow.
 */

export type Hop = "synced" | "reloaded" | "rollout" | "ready" | "mounted";
export const HOPS: readonly Hop[] = ["synced", "reloaded", "rollout", "ready", "mounted"];

export type TraceMode = "rollout" | "in-place" | "unused";

export interface PodObservation {
  name: string;
  replicaSet: string | undefined;
  createdAt: number | undefined;
  ready: boolean;
  readyAt: number | undefined;
  /** Waiting or terminated reason of a container (CrashLoopBackOff, CreateContainerConfigError, ContainerCreating…). */
  reason: string | undefined;
  restartCount: number;
  deleting: boolean;
  /** Version of this trace's secret that the pod mounted (from its SecretProviderClassPodStatus). */
  mountedVersion: string | undefined;
  /** When the watcher first saw that version in the pod's mount status (else: when observed). */
  mountedAt?: number;
}

export interface ReplicaSetObservation {
  name: string;
  revision: number;
  createdAt: number | undefined;
  /** Which reload made it (the marker Reloader left in its template), if any. */
  reloadMarker?: string | undefined;
}

/** Reloader rolled the deployment at `at`, leaving `marker` in the template. */
export interface ReloadObservation {
  at: number;
  marker: string;
  /**
   * Known only to the second (read from Reloader's annotation when the watcher
   * found it already done): it may have happened up to a second after `at`.
   */
  coarse?: boolean;
}

export interface ClusterObservation {
  /**
   * When the synced Secret's entry for this trace's secret changed, oldest
   * first; undefined when the synced Secret has no entry for it (the driver
   * rotates such a secret in place, and nothing rolls).
   */
  syncedChanges: number[] | undefined;
  /** When Reloader rolled the deployment (its marker in the pod template changed), oldest first. */
  reloads: ReloadObservation[];
  /** The deployment's ReplicaSets. */
  replicaSets: ReplicaSetObservation[];
  desiredReplicas: number;
  pods: PodObservation[];
  /** Whether any pod mounts this trace's secret at all. */
  mountedByAny: boolean;
  /** Recent FailedMount and MountRotationFailed messages in the lab namespace. */
  mountFailures: Array<{ pod: string; message: string; at: number; count: number }>;
  /** When events of the CSI driver's rotation reconciler arrived (v1.5 and older; v1.6 emits none). */
  reconcilerEvents?: number[];
}

export interface TraceStart {
  lab: string;
  secret: string;
  version: string;
  previousVersion: string | undefined;
  setAt: number;
  /** "slack:U123" style (the labops-by tag), or undefined when the version came from outside labops. */
  changedBy: string | undefined;
  /** Pods running before the version existed. */
  podsBefore: string[];
  replicaSetBefore: string | undefined;
  correlationId: string | undefined;
}

export interface NewPod {
  readyAt?: number;
  mountedAt?: number;
  reason?: string;
  restarts: number;
}

export interface TraceState extends TraceStart {
  id: string;
  mode?: TraceMode;
  hops: Partial<Record<Hop, number>>;
  /** New pods seen for this rollout and when each became Ready and mounted the version. */
  newPods: Record<string, NewPod>;
  /** The new pods that made the trace complete, and how many the deployment wanted. */
  reached?: { pods: string[]; desired: number };
  completedAt?: number;
  /** The hop a stuck alert was posted for (once per hop). */
  stuckAlerted?: Hop;
  /** A newer version replaced this one before it completed. */
  supersededBy?: string;
  /** The value did not change: the driver updated the mounts and nothing had to restart. */
  sameValue?: boolean;
  /** Where this trace's alerts go once one was posted (the rotate command's thread, or an alert thread). */
  thread?: ThreadRef;
  /** The CSI driver's SecretRotationComplete events seen while the trace ran (folded, never posted). */
  driverEvents?: number;
  /**
   * How the CSI driver was seen rotating this version: with its reconciler's
   * events (v1.5 and older), or a Secret or mount rewritten with none (v1.6,
   * on the kubelet's republish). Undefined until it did either.
   */
  driver?: "reconciler" | "republish";
  /** The W3C context of the rotation span its stuck alert ended, so that the completion links to it. */
  rotationTrace?: Record<string, string>;
}

export function traceId(lab: string, secret: string, version: string): string {
  return `${lab}/${secret}/${version}`;
}

export function startTrace(start: TraceStart): TraceState {
  return { ...start, id: traceId(start.lab, start.secret, start.version), hops: {}, newPods: {} };
}

const firstAtOrAfter = (times: readonly number[] | undefined, after: number): number | undefined => {
  if (!times) return undefined;
  let best: number | undefined;
  for (const t of times) if (t >= after && (best === undefined || t < best)) best = t;
  return best;
};

const isDone = (state: TraceState) => state.completedAt !== undefined || state.supersededBy !== undefined;

/** Folds one cluster observation into the trace; returns the updated state (the input is not changed). */
export function observe(state: TraceState, cluster: ClusterObservation, now: number): TraceState {
  if (isDone(state)) return state;
  const next: TraceState = { ...state, hops: { ...state.hops }, newPods: { ...state.newPods } };
  const driver = driverSeen(state, cluster);
  if (driver) next.driver = driver;
  const { hops } = next;
  if (next.mode === undefined) {
    next.mode =
      cluster.syncedChanges !== undefined ? "rollout" : cluster.mountedByAny ? "in-place" : "unused";
  }
  if (next.mode === "unused") {
    next.completedAt = now;
    return next;
  }
  if (next.mode === "in-place") return observeInPlace(next, cluster, now);

  const reloads = cluster.reloads.filter((r) => r.at + (r.coarse ? 999 : 0) >= state.setAt);
  const firstReload = reloads.reduce<number | undefined>(
    (first, r) => (first === undefined || r.at < first ? r.at : first),
    undefined,
  );
  const reload = firstReload === undefined ? undefined : Math.max(firstReload, state.setAt);
  const synced = firstAtOrAfter(cluster.syncedChanges, state.setAt);
  // A reload after the version was written means the sync happened, even if the Secret's own watch lagged.
  const syncedOrReloaded = synced ?? reload;
  if (hops.synced === undefined && syncedOrReloaded !== undefined) hops.synced = syncedOrReloaded;
  if (hops.synced !== undefined && hops.reloaded === undefined && reload !== undefined) {
    hops.reloaded = Math.max(reload, hops.synced);
  }
  // The rollout is the ReplicaSet a reload since the write made: matched by Reloader's marker in
  // its template, not by creation times (whole seconds, and an emulated rotation takes less).
  const markers = new Set(reloads.map((r) => r.marker));
  const newest = cluster.replicaSets
    .filter((rs) => rs.reloadMarker !== undefined && markers.has(rs.reloadMarker))
    .sort((a, b) => b.revision - a.revision)[0];
  if (hops.reloaded !== undefined && hops.rollout === undefined && newest !== undefined) {
    hops.rollout = Math.max(newest.createdAt ?? now, hops.reloaded);
  }

  const newRs = hops.rollout !== undefined ? newest?.name : undefined;
  if (newRs === undefined) return next;
  for (const pod of cluster.pods) {
    if (pod.deleting || pod.replicaSet !== newRs) continue;
    next.newPods[pod.name] = trackPod(next.newPods[pod.name], pod, state.version, now);
  }
  // Pods of the new ReplicaSet were never "before", whatever their whole-second creation times said.
  next.podsBefore = state.podsBefore.filter((p) => next.newPods[p] === undefined);

  const live = cluster.pods.filter((p) => !p.deleting);
  const oldLeft = live.filter((p) => p.replicaSet !== newRs).length;
  const readyNow = live.filter((p) => p.replicaSet === newRs && p.ready && next.newPods[p.name]);
  if (readyNow.length >= cluster.desiredReplicas && oldLeft === 0 && cluster.desiredReplicas > 0) {
    const times = readyNow.map((p) => next.newPods[p.name]?.readyAt ?? now);
    hops.ready ??= Math.max(hops.rollout ?? 0, ...times);
    const mounted = readyNow.filter((p) => next.newPods[p.name]?.mountedAt !== undefined);
    if (mounted.length === readyNow.length) {
      hops.mounted ??= Math.max(hops.ready, ...mounted.map((p) => next.newPods[p.name]?.mountedAt ?? now));
      next.completedAt = Math.max(hops.ready, hops.mounted);
      next.reached = { pods: readyNow.map((p) => p.name).sort(), desired: cluster.desiredReplicas };
    }
  } else if (hops.ready !== undefined && hops.mounted === undefined) {
    // Readiness was lost before every pod mounted the version (a pod crashed): wait for it again.
    delete hops.ready;
  }
  return next;
}

/** Which rotation the driver showed since the write: reconciler events, or a rewrite without them. */
function driverSeen(state: TraceState, cluster: ClusterObservation): TraceState["driver"] {
  if (state.driver === "reconciler" || (cluster.reconcilerEvents ?? []).some((t) => t >= state.setAt))
    return "reconciler";
  // Reloader restarts the deployment only on a change of the synced Secret, so a reload since the
  // write is the rewrite seen from the other side, even when the Secret's own watch event lags
  // (as the synced hop already reads it, in observe).
  const rewritten =
    firstAtOrAfter(cluster.syncedChanges, state.setAt) !== undefined ||
    cluster.reloads.some((r) => r.at + (r.coarse ? 999 : 0) >= state.setAt) ||
    cluster.pods.some((p) => state.podsBefore.includes(p.name) && p.mountedVersion === state.version);
  return rewritten ? "republish" : state.driver;
}

function trackPod(seen: NewPod | undefined, pod: PodObservation, version: string, now: number): NewPod {
  const entry: NewPod = { ...(seen ?? { restarts: 0 }), restarts: pod.restartCount };
  if (pod.ready) entry.readyAt ??= pod.readyAt ?? now;
  if (pod.mountedVersion === version && entry.mountedAt === undefined) entry.mountedAt = pod.mountedAt ?? now;
  if (pod.reason !== undefined) entry.reason = pod.reason;
  else delete entry.reason;
  return entry;
}

/** A secret the synced Secret does not carry: the driver rewrites the mounts, and nothing restarts. */
function observeInPlace(next: TraceState, cluster: ClusterObservation, now: number): TraceState {
  const live = cluster.pods.filter((p) => !p.deleting);
  for (const pod of live) {
    if (pod.mountedVersion === next.version) {
      next.newPods[pod.name] = trackPod(next.newPods[pod.name], pod, next.version, now);
    }
  }
  const ready = live.filter((p) => p.ready);
  if (
    live.length > 0 &&
    ready.length >= cluster.desiredReplicas &&
    live.every((p) => p.ready && p.mountedVersion === next.version)
  ) {
    const times = live.map((p) => next.newPods[p.name]?.mountedAt ?? now);
    next.hops.mounted ??= Math.max(next.setAt, ...times);
    next.completedAt = next.hops.mounted;
    next.reached = { pods: live.map((p) => p.name).sort(), desired: cluster.desiredReplicas };
  }
  return next;
}

/**
 * When the sync is overdue but every pod already mounts the version, the
 * value did not change: the driver rewrote the mounts, the synced Secret kept
 * its data, and nothing had to restart. That is a completion, not a stall.
 */
export function completeIfSameValue(state: TraceState, cluster: ClusterObservation, now: number): TraceState {
  if (isDone(state) || state.mode !== "rollout" || state.hops.synced !== undefined) return state;
  const live = cluster.pods.filter((p) => !p.deleting);
  if (live.length === 0 || !live.every((p) => p.ready && p.mountedVersion === state.version)) return state;
  return {
    ...state,
    sameValue: true,
    hops: { ...state.hops, mounted: now },
    completedAt: now,
    reached: { pods: live.map((p) => p.name).sort(), desired: cluster.desiredReplicas },
  };
}

/** The hop the trace waits for next, or undefined when complete. */
export function pendingHop(state: TraceState): Hop | undefined {
  if (state.completedAt !== undefined) return undefined;
  if (state.mode === "in-place") return "mounted";
  for (const hop of HOPS) {
    if (state.hops[hop] === undefined) return hop;
  }
  return undefined;
}
