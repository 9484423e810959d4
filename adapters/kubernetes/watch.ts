import { createHmac, randomBytes } from "node:crypto";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1Deployment,
  type V1Pod,
  type V1ReplicaSet,
  type V1Secret,
  Watch,
} from "@kubernetes/client-node";
import type {
  ClusterWatch,
  ClusterWatchPort,
  ClusterWatchSink,
  WatchedDeployment,
  WatchedEvent,
  WatchedObjects,
  WatchedReplicaSet,
  WatchedSecret,
  WatchKind,
  WatchScope,
} from "../../src/ports/cluster-watch.ts";
import { apiClient, mountState, podState, time, withSignal } from "./cluster.ts";

/**
 * The watch port on @kubernetes/client-node. Each resource type gets one
 * reflector: list, then watch from the list's resourceVersion with bookmarks;
 * resume from the last resourceVersion when a stream ends; list again after
 * 410 Gone; after any other error, wait a jittered exponential back-off and
 * start over.
 *
 * client-node's own informer (ListWatch) does the list-and-watch part but
 * stops for good on an error other than 410 (its owner must restart it), and
 * caches whole objects. A reflector here projects each object as it arrives,
 * client-go's transform-function idea: the watcher of fifty clusters keeps a
 * few hundred bytes per pod, and the synced Secret's values are reduced to
 * keyed digests before anything else sees them.
 */

const SPC_GROUP = "secrets-store.csi.x-k8s.io";
const RELOADER_PREFIX = "reloader.stakater.com";
const LAST_RELOADED_FROM = "reloader.stakater.com/last-reloaded-from";
/** Event reasons the watcher reads; every other event is dropped on arrival. */
const EVENT_REASONS = new Set([
  "FailedMount",
  "MountRotationFailed",
  "MountRotationComplete",
  "SecretRotationComplete",
  "SecretRotationFailed",
  "Reloaded",
  "ReloadFail",
  "BackOff",
  "Evicted",
  "Killing",
]);

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export const WATCH_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 30_000 };

/** Half fixed, half random ("equal jitter"): replicas spread out, and no retry comes near-instantly. */
export function jitteredBackoff(failures: number, policy: BackoffPolicy, random: () => number): number {
  const cap = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

type Raw = { metadata?: { resourceVersion?: string; [k: string]: unknown }; [k: string]: unknown };

/** Digests of the synced Secret's entries under a per-process key: change detectors, not fingerprints. */
export function secretProjector(key: Buffer = randomBytes(32)): (raw: unknown) => WatchedSecret {
  return (raw) => {
    const s = raw as V1Secret;
    const keys: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.data ?? {})) {
      keys[k] = createHmac("sha256", key).update(k).update("\0").update(v).digest("hex").slice(0, 16);
    }
    return { name: s.metadata?.name ?? "", resourceVersion: s.metadata?.resourceVersion ?? "", keys };
  };
}

type Template = NonNullable<V1Deployment["spec"]>["template"] | undefined;

/**
 * What Reloader writes into a pod template, as a digest: its annotation
 * (annotations strategy) or STAKATER_* env vars (env-vars strategy). A
 * Deployment and the ReplicaSet made from its template share it, which is
 * how a reload is matched to the ReplicaSet it created, with no clock.
 */
export function reloadMarker(template: Template, digestKey: Buffer): string | undefined {
  const marks: string[] = [];
  const from = template?.metadata?.annotations?.[LAST_RELOADED_FROM];
  if (from !== undefined) marks.push(from);
  for (const c of template?.spec?.containers ?? []) {
    for (const e of c.env ?? []) if (e.name.startsWith("STAKATER_")) marks.push(`${e.name}=${e.value ?? ""}`);
  }
  if (marks.length === 0) return undefined;
  return createHmac("sha256", digestKey).update(marks.sort().join("\n")).digest("hex").slice(0, 16);
}

export function projectDeployment(raw: unknown, digestKey: Buffer): WatchedDeployment {
  const d = raw as V1Deployment;
  const reloaderAnnotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {})) {
    if (k.includes(RELOADER_PREFIX)) reloaderAnnotations[k] = v;
  }
  const template = d.spec?.template;
  const from = template?.metadata?.annotations?.[LAST_RELOADED_FROM];
  let reloadedAt: number | undefined;
  if (from !== undefined) {
    try {
      const at = (JSON.parse(from) as { observedAt?: number }).observedAt;
      if (typeof at === "number") reloadedAt = at * 1000;
    } catch {
      // An annotation that is not Reloader's JSON still marks a reload; it just carries no time.
    }
  }
  return {
    name: d.metadata?.name ?? "",
    generation: d.metadata?.generation ?? 0,
    replicas: d.spec?.replicas ?? 1,
    readyReplicas: d.status?.readyReplicas ?? 0,
    availableReplicas: d.status?.availableReplicas ?? 0,
    reloaderAnnotations,
    reloadMarker: reloadMarker(template, digestKey),
    reloadedAt,
  };
}

export function projectReplicaSet(raw: unknown, digestKey: Buffer): WatchedReplicaSet {
  const rs = raw as V1ReplicaSet;
  return {
    name: rs.metadata?.name ?? "",
    deployment: rs.metadata?.ownerReferences?.find((o) => o.kind === "Deployment")?.name,
    revision: Number(rs.metadata?.annotations?.["deployment.kubernetes.io/revision"] ?? 0) || 0,
    reloadMarker: reloadMarker(rs.spec?.template, digestKey),
    replicas: rs.spec?.replicas ?? 0,
    readyReplicas: rs.status?.readyReplicas ?? 0,
    createdAt: time(rs.metadata?.creationTimestamp),
  };
}

interface RawEvent {
  metadata?: { uid?: string; name?: string; creationTimestamp?: string | Date };
  reason?: string;
  message?: string;
  type?: string;
  count?: number;
  involvedObject?: { kind?: string; name?: string };
  lastTimestamp?: string | Date;
  eventTime?: string | Date;
  firstTimestamp?: string | Date;
}

export function projectEvent(raw: unknown): WatchedEvent | undefined {
  const e = raw as RawEvent;
  if (!e.reason || !EVENT_REASONS.has(e.reason)) return undefined;
  return {
    uid: e.metadata?.uid ?? e.metadata?.name ?? "",
    reason: e.reason,
    message: (e.message ?? "").slice(0, 400),
    type: e.type ?? "",
    involvedKind: e.involvedObject?.kind ?? "",
    involvedName: e.involvedObject?.name ?? "",
    count: e.count ?? 1,
    lastAt: time(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp),
  };
}

interface ListResult {
  items: unknown[];
  resourceVersion: string;
}

interface ReflectorOptions<K extends WatchKind> {
  kind: K;
  kubeConfig: KubeConfig;
  path: string;
  query: Record<string, string>;
  list(signal: AbortSignal): Promise<ListResult>;
  project(raw: unknown): WatchedObjects[K] | undefined;
  sink: ClusterWatchSink;
  backoff: BackoffPolicy;
  random: () => number;
}

interface StreamEnd {
  error: (Error & { statusCode?: number }) | null;
  gone: boolean;
  events: number;
  startedAt: number;
}

class StatusError extends Error {
  readonly statusCode: number;
  constructor(code: number, message: string) {
    super(message);
    this.statusCode = code;
  }
}

/** One resource type of one cluster: list, watch, resume, relist, back off. */
class Reflector<K extends WatchKind> {
  readonly #o: ReflectorOptions<K>;
  readonly #watch: Watch;
  readonly #stop = new AbortController();
  #resourceVersion = "";
  #controller: AbortController | undefined;
  #streaming = false;
  #loop: Promise<void> | undefined;

  constructor(options: ReflectorOptions<K>) {
    this.#o = options;
    // client-node ends a stream quiet for 30 s (TimeoutError); bookmarks keep busy ones open, and a quiet one resumes.
    this.#watch = new Watch(options.kubeConfig);
  }

  get streaming(): boolean {
    return this.#streaming;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#controller?.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { kind, sink } = this.#o;
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      let end: StreamEnd;
      try {
        if (this.#resourceVersion === "") await this.#relist();
        end = await this.#stream();
      } catch (error) {
        end = { error: asError(error), gone: false, events: 0, startedAt: Date.now() };
      }
      if (this.#stop.signal.aborted) return;
      if (end.gone || end.error?.statusCode === 410) {
        // The resourceVersion was compacted away: start over from a fresh list, at once.
        this.#resourceVersion = "";
        failures = 0;
        continue;
      }
      if (end.error === null || end.error.name === "TimeoutError") {
        // A stream the server ended, or one quiet past client-node's idle timeout: resume where it was.
        // Only a stream that ends at once with nothing to say, again and again, earns a pause.
        if (end.events > 0 || Date.now() - end.startedAt > 1_000) {
          failures = 0;
          continue;
        }
      }
      failures += 1;
      const delay = jitteredBackoff(failures, this.#o.backoff, this.#o.random);
      if (end.error) sink.failed?.(kind, end.error, delay);
      await sleep(delay, this.#stop.signal);
    }
  }

  /**
   * Lists and hands on the projections. A method of its own so that the
   * list (whole typed objects) is garbage once it returns: kept in the loop's
   * frame, it would live as long as the watch that follows.
   */
  async #relist(): Promise<void> {
    const list = await withSignal(this.#stop.signal, 20_000, (signal) => this.#o.list(signal));
    const objects: WatchedObjects[K][] = [];
    for (const raw of list.items) {
      const o = this.#o.project(raw);
      if (o !== undefined) objects.push(o);
    }
    this.#o.sink.replace(this.#o.kind, objects);
    this.#resourceVersion = list.resourceVersion;
  }

  #stream(): Promise<StreamEnd> {
    const startedAt = Date.now();
    let events = 0;
    let gone = false;
    let statusError: StatusError | undefined;
    const { kind, sink } = this.#o;
    return new Promise<StreamEnd>((resolve) => {
      const done = (error: unknown) => {
        this.#streaming = false;
        this.#controller = undefined;
        resolve({ error: statusError ?? (error ? asError(error) : null), gone, events, startedAt });
      };
      const onEvent = (type: string, object: Raw) => {
        if (type === "ERROR") {
          const status = object as { code?: number; message?: string };
          if (status.code === 410) gone = true;
          else statusError = new StatusError(status.code ?? 500, status.message ?? "watch error");
          this.#controller?.abort();
          return;
        }
        events += 1;
        const rv = object.metadata?.resourceVersion;
        if (rv) this.#resourceVersion = rv;
        if (type === "BOOKMARK") return;
        const projected = this.#o.project(object);
        if (projected === undefined) return;
        if (type === "DELETED") sink.remove(kind, projected);
        else sink.upsert(kind, projected);
      };
      this.#watch
        .watch(
          this.#o.path,
          { ...this.#o.query, resourceVersion: this.#resourceVersion, allowWatchBookmarks: "true" },
          onEvent,
          done,
        )
        .then(
          (controller) => {
            if (this.#stop.signal.aborted) {
              controller.abort();
              return;
            }
            this.#controller = controller;
            // watch() resolves once the response started; done() may have run already for a failed request.
            if (!controller.signal.aborted) this.#streaming = true;
          },
          (error: unknown) => done(error),
        );
    });
  }
}

function asError(error: unknown): Error & { statusCode?: number } {
  if (error instanceof Error) {
    const code =
      (error as { code?: unknown; statusCode?: unknown }).statusCode ?? (error as { code?: unknown }).code;
    const e = error as Error & { statusCode?: number };
    if (typeof code === "number" && e.statusCode === undefined) e.statusCode = code;
    return e;
  }
  return new Error(String(error));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export interface KubeClusterWatchOptions {
  backoff?: BackoffPolicy;
  random?: () => number;
}

/** ClusterWatchPort on client-node: six reflectors per lab cluster, scoped to its namespace. */
export class KubeClusterWatchPort implements ClusterWatchPort {
  readonly #backoff: BackoffPolicy;
  readonly #random: () => number;
  /** Per process: digests from one process are never compared with another's, nor stored. */
  readonly #digestKey = randomBytes(32);

  constructor(options: KubeClusterWatchOptions = {}) {
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
    const digestKey = this.#digestKey;
    const projectSecret = secretProjector(digestKey);
    const rv = (list: { metadata?: { resourceVersion?: string } }) => list.metadata?.resourceVersion ?? "";
    const common = {
      kubeConfig: kc,
      sink,
      backoff: this.#backoff,
      random: this.#random,
    };
    const secretQuery = { fieldSelector: `metadata.name=${scope.syncedSecret}` };
    const deploymentQuery = { fieldSelector: `metadata.name=${scope.deployment}` };
    const podQuery = { labelSelector: scope.podSelector };
    const reflectors = [
      new Reflector({
        ...common,
        kind: "secret",
        path: `/api/v1/namespaces/${ns}/secrets`,
        query: secretQuery,
        list: async () => {
          const l = await core.listNamespacedSecret({ namespace: ns, ...secretQuery });
          return { items: l.items, resourceVersion: rv(l) };
        },
        project: projectSecret,
      }),
      new Reflector({
        ...common,
        kind: "deployment",
        path: `/apis/apps/v1/namespaces/${ns}/deployments`,
        query: deploymentQuery,
        list: async () => {
          const l = await apps.listNamespacedDeployment({ namespace: ns, ...deploymentQuery });
          return { items: l.items, resourceVersion: rv(l) };
        },
        project: (raw) => projectDeployment(raw, digestKey),
      }),
      new Reflector({
        ...common,
        kind: "replicaset",
        path: `/apis/apps/v1/namespaces/${ns}/replicasets`,
        query: podQuery,
        list: async () => {
          const l = await apps.listNamespacedReplicaSet({ namespace: ns, ...podQuery });
          return { items: l.items, resourceVersion: rv(l) };
        },
        project: (raw) => projectReplicaSet(raw, digestKey),
      }),
      new Reflector({
        ...common,
        kind: "pod",
        path: `/api/v1/namespaces/${ns}/pods`,
        query: podQuery,
        list: async () => {
          const l = await core.listNamespacedPod({ namespace: ns, ...podQuery });
          return { items: l.items, resourceVersion: rv(l) };
        },
        project: (raw) => podState(raw as V1Pod),
      }),
      new Reflector({
        ...common,
        kind: "mount",
        path: `/apis/${SPC_GROUP}/v1/namespaces/${ns}/secretproviderclasspodstatuses`,
        query: {},
        list: async () => {
          const l = (await custom.listNamespacedCustomObject({
            group: SPC_GROUP,
            version: "v1",
            namespace: ns,
            plural: "secretproviderclasspodstatuses",
          })) as { items?: unknown[]; metadata?: { resourceVersion?: string } };
          return { items: l.items ?? [], resourceVersion: rv(l) };
        },
        project: (raw) => mountState(raw as Parameters<typeof mountState>[0]),
      }),
      new Reflector({
        ...common,
        kind: "event",
        path: `/api/v1/namespaces/${ns}/events`,
        query: {},
        list: async () => {
          const l = await core.listNamespacedEvent({ namespace: ns });
          return { items: l.items, resourceVersion: rv(l) };
        },
        project: projectEvent,
      }),
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
