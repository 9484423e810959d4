import { type ClusterObservation, type Hop, pendingHop, type TraceState } from "./trace.ts";

/**
 * When a trace is late and why: the deadline of its pending hop, and the
 * likeliest cause named plainly from what the cluster and Azure say. Pure,
 * like the trace itself; the watcher reads the diagnosis and asks.
 */

export interface Diagnosis {
  rotationEnabled: boolean | undefined;
  rotationPollIntervalMs: number;
  reloaderAvailable: boolean | undefined;
  deploymentAnnotated: boolean | undefined;
}

export interface Deadlines {
  /** Added to two poll intervals for the sync to happen (the driver may have just polled). */
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

/**
 * When the pending hop is overdue, or undefined if there is none. Allowances
 * are divided by `timeScale` but never fall below `floorMs` (nor above the
 * allowance itself), because watch latency and CPU do not get faster with the
 * time scale (the rule of src/labs/timing.ts).
 */
export function deadlineFor(
  state: TraceState,
  diagnosis: Diagnosis,
  deadlines: Deadlines = DEFAULT_DEADLINES,
  timeScale = 1,
  floorMs = 0,
): number | undefined {
  const hop = pendingHop(state);
  const s = (ms: number) => Math.max(ms / timeScale, Math.min(ms, floorMs));
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
      if (state.mode === "in-place") {
        return state.setAt + s(2 * diagnosis.rotationPollIntervalMs + deadlines.syncSlackMs);
      }
      return (state.hops.rollout ?? state.setAt) + s(deadlines.readyMs);
    default:
      return undefined;
  }
}

export interface StuckReport {
  hop: Hop;
  cause: string;
  /** Pods the cause is about (crash-looping or failing to mount). */
  pods?: string[];
}

const CRASH_RESTARTS = 2;

/** New pods that crash on the new value: in CrashLoopBackOff, or restarted more than once already. */
export function crashingPods(state: TraceState): string[] {
  return Object.entries(state.newPods)
    .filter(([, p]) => p.reason === "CrashLoopBackOff" || p.restarts >= CRASH_RESTARTS)
    .map(([name]) => name)
    .sort();
}

/**
 * A stall that needs no deadline: new pods crash-looping on the new value,
 * or a new pod failing to mount again and again. Waiting out the rollout
 * deadline would only delay the bad news.
 */
export function earlyStuck(state: TraceState, cluster: ClusterObservation): StuckReport | undefined {
  const hop = pendingHop(state);
  if (hop !== "ready" && hop !== "mounted") return undefined;
  if (state.mode === "in-place") return undefined;
  const crashing = crashingPods(state);
  if (crashing.length > 0) {
    return {
      hop,
      cause: `new pods are crash-looping on the new value: ${crashing.join(", ")}`,
      pods: crashing,
    };
  }
  const failing = cluster.mountFailures.filter(
    (f) => f.at >= state.setAt && f.count >= 3 && state.newPods[f.pod] !== undefined,
  );
  const first = failing[0];
  if (first) {
    return {
      hop,
      cause: `new pod ${first.pod} cannot mount the vault: ${first.message.slice(0, 200)}`,
      pods: failing.map((f) => f.pod),
    };
  }
  return undefined;
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
  const rotationOff = (): StuckReport | undefined =>
    diagnosis.rotationEnabled === false
      ? {
          hop,
          cause:
            "secret rotation is disabled in the cluster's Key Vault CSI addon (enableSecretRotation=false)",
        }
      : undefined;
  if (state.mode === "in-place") {
    return (
      rotationOff() ?? {
        hop,
        cause: "the CSI driver has not rewritten every pod's mount with the new version yet",
      }
    );
  }
  switch (hop) {
    case "synced": {
      const off = rotationOff();
      if (off) return off;
      const f = failures[0];
      if (f)
        return {
          hop,
          cause: `the CSI driver cannot read the vault for ${f.pod}: ${f.message.slice(0, 200)}`,
          pods: [f.pod],
        };
      // The pods' SecretProviderClassPodStatus against the vault: the driver fetched it, or not.
      const mounting = cluster.pods.filter((p) => !p.deleting && p.mountedVersion === state.version);
      if (mounting.length > 0)
        return {
          hop,
          cause: `${mounting.map((p) => p.name).join(", ")} already mount the new version but the synced Secret was not rewritten (the driver updates only a Secret it manages: label secrets-store.csi.k8s.io/managed=true)`,
        };
      if (state.driver !== "reconciler" && !(cluster.reconcilerEvents ?? []).length)
        return {
          hop,
          cause:
            "no pod's mount shows the new version: the CSI driver has not re-fetched it (without rotation events, a v1.6 driver re-fetches on the kubelet's republish after rotationPollInterval and says nothing when that fails: check the identity's access to the vault)",
        };
      return {
        hop,
        cause:
          "the CSI driver has not picked up the new version (its rotation poll has not run or reached the vault)",
      };
    }
    case "reloaded":
      if (diagnosis.reloaderAvailable === false)
        return { hop, cause: "Reloader is not running in the cluster (namespace reloader)" };
      if (diagnosis.deploymentAnnotated === false) {
        return {
          hop,
          cause: "the deployment lacks the reloader.stakater.com/auto annotation, so nothing rolls it",
        };
      }
      return { hop, cause: "Reloader has not rolled the deployment after the synced Secret changed" };
    case "rollout":
      return {
        hop,
        cause: "Reloader patched the deployment but no new ReplicaSet appeared (is the rollout paused?)",
      };
    case "ready":
    case "mounted": {
      const early = earlyStuck(state, cluster);
      if (early) return early;
      const crashing = Object.entries(state.newPods)
        .filter(([, p]) => p.restarts > 0)
        .map(([n]) => n);
      if (crashing.length > 0) {
        return {
          hop,
          cause: `new pods are crash-looping on the new value: ${crashing.join(", ")}`,
          pods: crashing,
        };
      }
      const mount = failures.find((f) => state.newPods[f.pod] !== undefined);
      if (mount)
        return {
          hop,
          cause: `new pod ${mount.pod} cannot mount the vault: ${mount.message.slice(0, 200)}`,
          pods: [mount.pod],
        };
      const waiting = Object.entries(state.newPods).filter(([, p]) => p.readyAt === undefined);
      if (waiting.length > 0) {
        return {
          hop,
          cause: `new pods are not ready: ${waiting.map(([n, p]) => `${n} (${p.reason ?? "starting"})`).join(", ")}`,
          pods: waiting.map(([n]) => n),
        };
      }
      return { hop, cause: "the rollout has not finished" };
    }
  }
}
