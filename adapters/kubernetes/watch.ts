import { randomBytes } from "node:crypto";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { BackoffPolicy, Clock } from "../../src/clock.ts";
import type {
  ClusterWatch,
  ClusterWatchPort,
  ClusterWatchSink,
  WatchedObjects,
  WatchKind,
  WatchScope,
} from "../../src/ports/cluster-watch.ts";
import { apiClient, mountState, podState } from "./cluster.ts";
import { projectDeployment, projectEvent, projectReplicaSet, secretProjector } from "./projections.ts";
import { type ListResult, Reflector } from "./reflector.ts";

/**
 * The watch port on @kubernetes/client-node: for each lab cluster, one
 * reflector (reflector.ts) per resource type the watcher follows, scoped to
 * the lab's namespace and narrowed by field or label selectors, each object
 * projected (projections.ts) before it reaches the sink.
 */

const SPC_GROUP = "secrets-store.csi.x-k8s.io";

export const WATCH_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 30_000 };

export interface KubeClusterWatchOptions {
  /** Back-off waits and stream timings. */
  clock: Clock;
  backoff?: BackoffPolicy;
  random?: () => number;
}

/** ClusterWatchPort on client-node: six reflectors per lab cluster, scoped to its namespace. */
export class KubeClusterWatchPort implements ClusterWatchPort {
  readonly #clock: Clock;
  readonly #backoff: BackoffPolicy;
  readonly #random: () => number;
  /** Per process: digests from one process are never compared with another's, nor stored. */
  readonly #digestKey = randomBytes(32);

  constructor(options: KubeClusterWatchOptions) {
    this.#clock = options.clock;
    this.#backoff = options.backoff ?? WATCH_BACKOFF;
    this.#random = options.random ?? Math.random;
  }

  watch(kubeconfig: string, scope: WatchScope, sink: ClusterWatchSink): ClusterWatch {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig);
    const core = apiClient(kc, CoreV1Api);
    const apps = apiClient(kc, AppsV1Api);
    const custom = apiClient(kc, CustomObjectsApi);
    const ns = scope.namespace;
    // Across namespaces: the same resources at their cluster-wide paths (what a host's shared watch reads).
    const all = scope.allNamespaces === true;
    const at = (group: string, plural: string) => `${group}${all ? "" : `/namespaces/${ns}`}/${plural}`;
    const digestKey = this.#digestKey;
    const rv = (list: { metadata?: { resourceVersion?: string } }) => list.metadata?.resourceVersion ?? "";
    const reflect = <K extends WatchKind>(
      kind: K,
      path: string,
      query: Record<string, string>,
      list: () => Promise<ListResult>,
      project: (raw: unknown) => WatchedObjects[K] | undefined,
    ) =>
      new Reflector<WatchedObjects[K]>({
        kubeConfig: kc,
        path,
        query,
        list,
        project,
        sink: {
          replace: (objects) => sink.replace(kind, objects),
          upsert: (object) => sink.upsert(kind, object),
          remove: (object) => sink.remove(kind, object),
          failed: (error, retryInMs) => sink.failed?.(kind, error, retryInMs),
        },
        backoff: this.#backoff,
        clock: this.#clock,
        random: this.#random,
      });
    const secretQuery = { fieldSelector: `metadata.name=${scope.syncedSecret}` };
    const deploymentQuery = { fieldSelector: `metadata.name=${scope.deployment}` };
    const podQuery = { labelSelector: scope.podSelector };
    const reflectors = [
      reflect(
        "secret",
        at("/api/v1", "secrets"),
        secretQuery,
        async () => {
          const l = all
            ? await core.listSecretForAllNamespaces(secretQuery)
            : await core.listNamespacedSecret({ namespace: ns, ...secretQuery });
          return { items: l.items, resourceVersion: rv(l) };
        },
        secretProjector(digestKey),
      ),
      reflect(
        "deployment",
        at("/apis/apps/v1", "deployments"),
        deploymentQuery,
        async () => {
          const l = all
            ? await apps.listDeploymentForAllNamespaces(deploymentQuery)
            : await apps.listNamespacedDeployment({ namespace: ns, ...deploymentQuery });
          return { items: l.items, resourceVersion: rv(l) };
        },
        (raw) => projectDeployment(raw, digestKey),
      ),
      reflect(
        "replicaset",
        at("/apis/apps/v1", "replicasets"),
        podQuery,
        async () => {
          const l = all
            ? await apps.listReplicaSetForAllNamespaces(podQuery)
            : await apps.listNamespacedReplicaSet({ namespace: ns, ...podQuery });
          return { items: l.items, resourceVersion: rv(l) };
        },
        (raw) => projectReplicaSet(raw, digestKey),
      ),
      reflect(
        "pod",
        at("/api/v1", "pods"),
        podQuery,
        async () => {
          const l = all
            ? await core.listPodForAllNamespaces(podQuery)
            : await core.listNamespacedPod({ namespace: ns, ...podQuery });
          return { items: l.items, resourceVersion: rv(l) };
        },
        (raw) => podState(raw as V1Pod),
      ),
      reflect(
        "mount",
        at(`/apis/${SPC_GROUP}/v1`, "secretproviderclasspodstatuses"),
        {},
        async () => {
          const plural = { group: SPC_GROUP, version: "v1", plural: "secretproviderclasspodstatuses" };
          const l = (
            all
              ? await custom.listClusterCustomObject(plural)
              : await custom.listNamespacedCustomObject({ ...plural, namespace: ns })
          ) as { items?: unknown[]; metadata?: { resourceVersion?: string } };
          return { items: l.items ?? [], resourceVersion: rv(l) };
        },
        (raw) => mountState(raw as Parameters<typeof mountState>[0]),
      ),
      reflect(
        "event",
        at("/api/v1", "events"),
        {},
        async () => {
          const l = all
            ? await core.listEventForAllNamespaces({})
            : await core.listNamespacedEvent({ namespace: ns });
          return { items: l.items, resourceVersion: rv(l) };
        },
        projectEvent,
      ),
    ];
    for (const r of reflectors) r.start();
    return {
      get openWatches() {
        return reflectors.filter((r) => r.streaming).length;
      },
      async stop() {
        await Promise.all(reflectors.map((r) => r.stop()));
      },
    };
  }
}
