import { formatElapsed } from "../labs/cards.ts";

/**
 * A rotation trace: one new secret version followed hop by hop from the vault
 * to every pod. Pure state: the watcher feeds it observations (from vault
 * polls and cluster informers) and asks it what to say. Times are epoch ms.
 *
 * Hops, in the order the lab's machinery makes them happen:
 *   set      the version exists in Key Vault (its createdOn)
 *   synced   the CSI driver's rotation reconciler rewrote the synced Secret
 *   reloaded Reloader patched the deployment's pod template
 *   rollout  a new ReplicaSet for that template exists
 *   ready    every pod of the new ReplicaSet is Ready
 *   mounted  every pod's SecretProviderClassPodStatus shows the version
 */

export type Hop = "synced" | "reloaded" | "rollout" | "ready" | "mounted";

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
}

export interface ClusterObservation {
  /** When the synced Secret's data last changed (resourceVersion bump seen by the informer). */
  syncedSecretChangedAt: number | undefined;
  /** The deployment's pod-template hash of its newest ReplicaSet, and when that ReplicaSet was created. */
  newestReplicaSet: { name: string; createdAt: number | undefined } | undefined;
  /** When Reloader's annotation on the pod template last changed, and its value. */
  reloadedAt: number | undefined;
  desiredReplicas: number;
  pods: PodObservation[];
  /** Recent FailedMount messages in the lab namespace. */
  mountFailures: Array<{ pod: string; message: string; at: number }>;
}

export interface Diagnosis {
  rotationEnabled: boolean | undefined;
  rotationPollIntervalMs: number;
  reloaderAvailable: boolean | undefined;
  deploymentAnnotated: boolean | undefined;
}

export interface TraceStart {
  lab: string;
  secret: string;
  version: string;
  previousVersion: string | undefined;
  setAt: number;
  /** "labops:slack:U123" style, or undefined when the version came from outside labops. */
  changedBy: string | undefined;
  /** Pods running before the version existed. */
  podsBefore: string[];
  replicaSetBefore: string | undefined;
  correlationId: string | undefined;
}

export interface TraceState extends TraceStart {
  hops: Partial<Record<Hop, number>>;
  /** New pods seen for this rollout and when each became Ready and mounted the version. */
  newPods: Record<string, { readyAt?: number; mountedAt?: number; reason?: string; restarts: number }>;
  completedAt?: number;
  /** The hop a stuck alert was posted for (once per hop). */
  stuckAlerted?: Hop;
  completionAlerted?: boolean;
  /** A newer version replaced this one before it completed. */
  supersededBy?: string;
}

export function startTrace(start: TraceStart): TraceState {
  return { ...start, hops: {}, newPods: {} };
}

const firstAfter = (t: number | undefined, after: number): number | undefined =>
  t !== undefined && t >= after ? t : undefined;

/** Folds one cluster observation into the trace; returns the updated state (the input is not changed). */
export function observe(state: TraceState, cluster: ClusterObservation, now: number): TraceState {
  if (state.completedAt !== undefined || state.supersededBy) return state;
  const next: TraceState = { ...state, hops: { ...state.hops }, newPods: { ...state.newPods } };
  const { hops } = next;

  // The synced Secret changes only when content changes, so its first change after the version was set is this hop.
  const synced = hops.synced ?? firstAfter(cluster.syncedSecretChangedAt, state.setAt);
  if (synced !== undefined) {
    hops.synced = synced;
    const reloaded = hops.reloaded ?? firstAfter(cluster.reloadedAt, state.setAt);
    if (reloaded !== undefined) hops.reloaded = reloaded;
    const rs = cluster.newestReplicaSet;
    if (rs && rs.name !== state.replicaSetBefore) hops.rollout ??= rs.createdAt ?? now;
  }

  const newRs = hops.rollout !== undefined ? cluster.newestReplicaSet?.name : undefined;
  for (const pod of cluster.pods) {
    if (
      pod.deleting ||
      state.podsBefore.includes(pod.name) ||
      pod.replicaSet !== newRs ||
      newRs === undefined
    )
      continue;
    const seen = next.newPods[pod.name] ?? { restarts: 0 };
    const entry = { ...seen, restarts: pod.restartCount };
    if (pod.ready) entry.readyAt ??= pod.readyAt ?? now;
    if (pod.mountedVersion === state.version) entry.mountedAt ??= now;
    if (pod.reason !== undefined) entry.reason = pod.reason;
    else delete entry.reason;
    next.newPods[pod.name] = entry;
  }

  const live = cluster.pods.filter((p) => !p.deleting);
  const oldLeft = live.filter((p) => p.replicaSet !== newRs).length;
  const fresh = Object.entries(next.newPods).filter(([name]) => live.some((p) => p.name === name));
  const ready = fresh.filter(([, p]) => p.readyAt !== undefined);
  const mounted = fresh.filter(([, p]) => p.mountedAt !== undefined);
  if (newRs !== undefined && ready.length >= cluster.desiredReplicas && oldLeft === 0) {
    hops.ready ??= Math.max(...ready.map(([, p]) => p.readyAt ?? now));
  }
  if (hops.ready !== undefined && mounted.length >= cluster.desiredReplicas) {
    hops.mounted ??= Math.max(...mounted.map(([, p]) => p.mountedAt ?? now));
    next.completedAt = Math.max(hops.ready, hops.mounted);
  }
  return next;
}

/** The hop the trace waits for next, or undefined when complete. */
export function pendingHop(state: TraceState): Hop | undefined {
  for (const hop of ["synced", "reloaded", "rollout", "ready", "mounted"] as const) {
    if (state.hops[hop] === undefined) return hop;
  }
  return undefined;
}

export interface Deadlines {
  /** Added to the poll interval for the sync to happen (the driver may have just polled). */
  syncSlackMs: number;
  reloadMs: number;
  rolloutStartMs: number;
  readyMs: number;
}

export const DEFAULT_DEADLINES: Deadlines = {
  syncSlackMs: 45_000,
  reloadMs: 60_000,
  rolloutStartMs: 30_000,
  readyMs: 5 * 60_000,
};

/** When the pending hop is overdue, or undefined if there is none. */
export function deadlineFor(
  state: TraceState,
  diagnosis: Diagnosis,
  deadlines: Deadlines = DEFAULT_DEADLINES,
  timeScale = 1,
): number | undefined {
  const hop = pendingHop(state);
  const s = (ms: number) => ms / timeScale;
  switch (hop) {
    case "synced":
      // The reconciler polls on its interval: two intervals and some slack before calling it stuck.
      return state.setAt + s(2 * diagnosis.rotationPollIntervalMs + deadlines.syncSlackMs);
    case "reloaded":
      return (state.hops.synced ?? state.setAt) + s(deadlines.reloadMs);
    case "rollout":
      return (state.hops.reloaded ?? state.hops.synced ?? state.setAt) + s(deadlines.rolloutStartMs);
    case "ready":
    case "mounted":
      return (state.hops.rollout ?? state.setAt) + s(deadlines.readyMs);
    default:
      return undefined;
  }
}

export interface StuckReport {
  hop: Hop;
  cause: string;
}

/** Why the pending hop has not happened: the likeliest cause, named plainly. */
export function diagnose(
  state: TraceState,
  cluster: ClusterObservation,
  diagnosis: Diagnosis,
): StuckReport | undefined {
  const hop = pendingHop(state);
  if (!hop) return undefined;
  const failures = cluster.mountFailures.filter((f) => f.at >= state.setAt);
  switch (hop) {
    case "synced": {
      if (diagnosis.rotationEnabled === false) {
        return {
          hop,
          cause:
            "secret rotation is disabled in the cluster's Key Vault CSI addon (enableSecretRotation=false)",
        };
      }
      const f = failures[0];
      if (f)
        return {
          hop,
          cause: `the CSI driver cannot read the vault for ${f.pod}: ${f.message.slice(0, 200)}`,
        };
      return {
        hop,
        cause:
          "the CSI driver has not picked up the new version (its rotation poll has not run or reached the vault)",
      };
    }
    case "reloaded":
    case "rollout":
      if (diagnosis.reloaderAvailable === false)
        return { hop, cause: "Reloader is not running in the cluster (namespace reloader)" };
      if (diagnosis.deploymentAnnotated === false) {
        return {
          hop,
          cause: "the deployment lacks the reloader.stakater.com/auto annotation, so nothing rolls it",
        };
      }
      return { hop, cause: "Reloader has not rolled the deployment after the synced Secret changed" };
    case "ready":
    case "mounted": {
      const crashing = Object.entries(state.newPods).filter(
        ([, p]) => p.reason === "CrashLoopBackOff" || p.restarts > 0,
      );
      if (crashing.length > 0) {
        return {
          hop,
          cause: `new pods are crash-looping on the new value: ${crashing.map(([n]) => n).join(", ")}`,
        };
      }
      const mount = failures.find((f) => state.newPods[f.pod] !== undefined);
      if (mount)
        return { hop, cause: `new pod ${mount.pod} cannot mount the vault: ${mount.message.slice(0, 200)}` };
      const waiting = Object.entries(state.newPods).filter(([, p]) => p.readyAt === undefined);
      if (waiting.length > 0) {
        return {
          hop,
          cause: `new pods are not ready: ${waiting.map(([n, p]) => `${n} (${p.reason ?? "starting"})`).join(", ")}`,
        };
      }
      return { hop, cause: "the rollout has not finished" };
    }
  }
}

export function shortVersion(version: string): string {
  return version.slice(0, 8);
}

/** "color: 3f2a1b0c reached 2/2 pods in 1m12s (synced +41s, rollout +42s, ready +70s)". */
export function completionSummary(state: TraceState): string {
  const at = (hop: Hop) => {
    const t = state.hops[hop];
    return t === undefined ? "?" : `+${formatElapsed(t - state.setAt)}`;
  };
  const pods = Object.keys(state.newPods).length;
  const took = state.completedAt === undefined ? "?" : formatElapsed(state.completedAt - state.setAt);
  return `${state.secret}: ${shortVersion(state.version)} reached ${pods}/${pods} pods in ${took} (synced ${at("synced")}, rollout ${at("rollout")}, ready ${at("ready")})`;
}

export function changedByText(state: TraceState): string {
  return state.changedBy
    ? `changed by ${state.changedBy.replace(/^labops:/, "")} through labops`
    : "changed outside labops";
}
