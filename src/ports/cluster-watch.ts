import type { MountState, PodState } from "./cluster.ts";

/**
 * Long-lived watches on one lab's cluster, for the rotation watcher. One
 * watch per resource type, scoped to the lab's namespace (and label where the
 * API allows), each listed once and then followed, re-listed after a 410 and
 * restarted with jittered back-off after errors, by the implementation.
 *
 * Objects arrive projected: only what the watcher reads, so that a watcher of
 * many clusters keeps little in memory and never holds a secret value. The
 * synced Secret in particular is reduced to one keyed digest per data key,
 * computed in the adapter under a per-process random key: it tells a change
 * apart, says nothing about the value, and is never stored.
 */

export interface WatchScope {
  namespace: string;
  /** The workload's Deployment. */
  deployment: string;
  /** Label selector of the workload's pods (and ReplicaSets), e.g. "app=podinfo". */
  podSelector: string;
  /** The Secret the CSI driver syncs from the vault. */
  syncedSecret: string;
  /**
   * Watch every namespace of the cluster at once (`namespace` is then only
   * the subscriber's own): what a host cluster's labs share, one watch per
   * kind for all its teams (src/watcher/shared-watches.ts).
   */
  allNamespaces?: boolean;
  /** Labs that give the same key share one set of watches (their host cluster); absent: watches of its own. */
  shareKey?: string;
}

export interface WatchedSecret {
  name: string;
  /** Where it lives (set by watches across namespaces; the routing of a shared watch). */
  namespace?: string;
  resourceVersion: string;
  /** Data key -> digest of its value (keyed per process; comparable only within one process). */
  keys: Record<string, string>;
}

export interface WatchedDeployment {
  name: string;
  namespace?: string;
  generation: number;
  replicas: number;
  readyReplicas: number;
  availableReplicas: number;
  /** Reloader's own annotations on the deployment (reloader.stakater.com/*), nothing else. */
  reloaderAnnotations: Record<string, string>;
  /**
   * A digest of what Reloader writes into the pod template (the
   * last-reloaded-from annotation, or STAKATER_* env vars): it changes when,
   * and only when, Reloader rolls the deployment. Undefined before any reload.
   */
  reloadMarker: string | undefined;
  /** When Reloader last rolled it, from its annotation (second resolution), if it says. */
  reloadedAt: number | undefined;
}

export interface WatchedReplicaSet {
  name: string;
  namespace?: string;
  /** The owning Deployment. */
  deployment: string | undefined;
  /** deployment.kubernetes.io/revision: grows with each new template. */
  revision: number;
  /** The same digest as WatchedDeployment.reloadMarker, of this ReplicaSet's template: which reload made it. */
  reloadMarker: string | undefined;
  replicas: number;
  readyReplicas: number;
  createdAt: number | undefined;
}

export interface WatchedEvent {
  uid: string;
  namespace?: string;
  reason: string;
  message: string;
  type: string;
  involvedKind: string;
  involvedName: string;
  count: number;
  lastAt: number | undefined;
}

export interface WatchedObjects {
  secret: WatchedSecret;
  deployment: WatchedDeployment;
  replicaset: WatchedReplicaSet;
  pod: PodState;
  mount: MountState;
  event: WatchedEvent;
}

export type WatchKind = keyof WatchedObjects;

export const WATCH_KINDS: readonly WatchKind[] = [
  "secret",
  "deployment",
  "replicaset",
  "pod",
  "mount",
  "event",
];

/** Where a lab's watches deliver. Calls come in the order each watch saw them; kinds interleave freely. */
export interface ClusterWatchSink {
  /** A (re)list of one kind: the whole current set, replacing what was known. */
  replace<K extends WatchKind>(kind: K, objects: WatchedObjects[K][]): void;
  upsert<K extends WatchKind>(kind: K, object: WatchedObjects[K]): void;
  remove<K extends WatchKind>(kind: K, object: WatchedObjects[K]): void;
  /** A watch failed and will be retried after `retryInMs` (for logs; the watches heal themselves). */
  failed?(kind: WatchKind, error: Error, retryInMs: number): void;
}

export interface ClusterWatch {
  /** Watch streams open right now (at most one per kind). */
  readonly openWatches: number;
  /** Ends every watch; resolves when their connections are closed. */
  stop(): Promise<void>;
}

export interface ClusterWatchPort {
  /** Starts the watches of one lab's cluster (kubeconfig YAML: a credential, kept in memory only). */
  watch(kubeconfig: string, scope: WatchScope, sink: ClusterWatchSink): ClusterWatch;
}
