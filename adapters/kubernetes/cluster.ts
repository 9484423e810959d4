import { AsyncLocalStorage } from "node:async_hooks";
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  createConfiguration,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  type RequestContext,
  type ResponseContext,
  ServerConfiguration,
  type V1Pod,
} from "@kubernetes/client-node";
import { backoff, type Clock, systemClock } from "../../src/clock.ts";
import { CancelledError, ExternalError } from "../../src/errors.ts";
import type {
  ClusterPort,
  ClusterSession,
  DeploymentState,
  EventInfo,
  KubeObject,
  MountState,
  PodState,
} from "../../src/ports/cluster.ts";
import { inSpan, NO_TRACING, type TraceSpan, type Tracing } from "../../src/ports/tracing.ts";

export const FIELD_MANAGER = "labops";
const SPC_GROUP = "secrets-store.csi.x-k8s.io";
const SPC_VERSION = "v1";

/**
 * Per-call timeout and cancellation. client-node 2.x sends requests with
 * undici's fetch and takes an AbortSignal from a request middleware; the
 * signal of the call in progress reaches that middleware through
 * AsyncLocalStorage, so one configuration serves every API client,
 * KubernetesObjectApi (which takes no per-call options) included.
 */
const callSignal = new AsyncLocalStorage<AbortSignal>();

const signalMiddleware = {
  pre: async (context: RequestContext) => {
    const signal = callSignal.getStore();
    if (signal) context.setSignal(signal);
    return context;
  },
  post: async (response: ResponseContext) => response,
};

/** Runs `fn` with `signal` (and a timeout) reaching every client-node request it makes. */
export function withSignal<T>(
  signal: AbortSignal,
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const combined = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
  return callSignal.run(combined, () => fn(combined));
}

export function apiClient<T>(
  kc: KubeConfig,
  ctor: new (config: ReturnType<typeof createConfiguration>) => T,
): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new ExternalError("kubernetes", "NoCluster", "The kubeconfig names no current cluster.");
  return new ctor(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [signalMiddleware],
    }),
  );
}

function toExternal(error: unknown, what: string, signal: AbortSignal): Error {
  if (signal.aborted) return new CancelledError();
  if (error instanceof ApiException) {
    const status = Number(error.code);
    let reason = "";
    let message = "";
    try {
      const body = JSON.parse(String(error.body)) as { reason?: string; message?: string };
      reason = body.reason ?? "";
      message = body.message ?? "";
    } catch {
      message = String(error.body).slice(0, 200);
    }
    const retryAfter = Number(error.headers?.["retry-after"]);
    return new ExternalError(
      "kubernetes",
      reason || `Http${status}`,
      `${what}: ${message || `HTTP ${status}`}`,
      {
        status,
        retryable: status === 429 || status >= 500 || status === 409,
        ...(Number.isFinite(retryAfter) ? { retryAfterMs: retryAfter * 1000 } : {}),
        cause: error,
      },
    );
  }
  const text = error instanceof Error ? error.message : String(error);
  return new ExternalError("kubernetes", "Unreachable", `${what}: ${text}`, {
    retryable: true,
    cause: error,
  });
}

export function time(value: Date | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

export function podState(pod: V1Pod): PodState {
  const statuses = pod.status?.containerStatuses ?? [];
  const readyCondition = pod.status?.conditions?.find((c) => c.type === "Ready");
  const waiting = statuses.find((s) => s.state?.waiting)?.state?.waiting?.reason;
  const terminated = statuses.find((s) => s.state?.terminated)?.state?.terminated?.reason;
  const owner = pod.metadata?.ownerReferences?.find((o) => o.kind === "ReplicaSet")?.name;
  // A failed pod says why at pod level (Evicted, NodeLost…), which outranks its containers' reasons.
  const podReason = pod.status?.phase === "Failed" ? pod.status.reason : undefined;
  return {
    name: pod.metadata?.name ?? "",
    namespace: pod.metadata?.namespace ?? "",
    phase: pod.status?.phase ?? "Unknown",
    ready: readyCondition?.status === "True",
    reason:
      podReason ??
      waiting ??
      terminated ??
      (pod.status?.phase === "Pending" ? "ContainerCreating" : undefined),
    restartCount: statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0),
    createdAt: time(pod.metadata?.creationTimestamp),
    readyAt: readyCondition?.status === "True" ? time(readyCondition.lastTransitionTime) : undefined,
    deletionTimestamp: time(pod.metadata?.deletionTimestamp),
    labels: pod.metadata?.labels ?? {},
    ownerReplicaSet: owner,
  };
}

interface SpcPodStatus {
  metadata?: { name?: string; namespace?: string };
  status?: {
    podName?: string;
    secretProviderClassName?: string;
    mounted?: boolean;
    objects?: Array<{ id?: string; version?: string }>;
  };
}

/** SecretProviderClassPodStatus object ids look like "secret/color" in the Azure provider. */
export function mountState(status: SpcPodStatus): MountState {
  const versions: Record<string, string> = {};
  for (const o of status.status?.objects ?? []) {
    if (!o.id || !o.version) continue;
    versions[o.id.replace(/^[a-z]+\//, "")] = o.version;
  }
  return {
    podName: status.status?.podName ?? "",
    namespace: status.metadata?.namespace ?? "",
    secretProviderClass: status.status?.secretProviderClassName ?? "",
    mounted: status.status?.mounted === true,
    versions,
  };
}

/**
 * Retries of one request that the API server answered with 429 or a 5xx.
 * client-node has no retry of its own (client-go retries 429/5xx that carry
 * Retry-After, up to ten times; the Azure SDK pipeline three times), so
 * without this a single transient answer failed the whole step: an apply of
 * five objects started over from the first, and five 5xx in a row used up a
 * step's attempts. Every request a session makes is idempotent (server-side
 * apply, get, list), so repeating it is safe.
 */
export interface KubeRetryPolicy {
  /** Retries after the first attempt; 0 turns them off. */
  maxRetries: number;
  /** Base of the exponential back-off (real ms), when the server gives no Retry-After. */
  initialDelayMs: number;
  maxDelayMs: number;
}

export const KUBE_REQUEST_RETRY: KubeRetryPolicy = { maxRetries: 3, initialDelayMs: 400, maxDelayMs: 5_000 };

/** A status the API server uses for "try again": throttling (APF, storage) and transient server errors. */
function isTransient(error: Error): error is ExternalError {
  return (
    error instanceof ExternalError &&
    error.status !== undefined &&
    (error.status === 429 || error.status >= 500)
  );
}

/** Never sooner than Retry-After; otherwise exponential with equal jitter, so retries of many labs spread out. */
export function requestRetryDelay(
  policy: KubeRetryPolicy,
  retry: number,
  error: ExternalError,
  random: () => number,
): number {
  const delays = { initialMs: policy.initialDelayMs, maxMs: policy.maxDelayMs };
  return backoff(retry, delays, random, error.retryAfterMs ?? 0);
}

export interface KubeClusterOptions {
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Retries of a request answered with 429 or 5xx; `KUBE_REQUEST_RETRY` when absent. */
  retry?: KubeRetryPolicy;
  /** Jitter source (tests pin it). */
  random?: () => number;
  /** Waits between retries (real ms: a server's pace, never scaled); the wall clock by default. */
  clock?: Clock;
  /** A client span per request made inside a trace (a step's, a diagnosis'); NO_TRACING when absent. */
  tracing?: Tracing;
}

interface SessionOptions {
  timeoutMs: number;
  retry: KubeRetryPolicy;
  random: () => number;
  clock: Clock;
  tracing: Tracing;
}

/** The cluster port on @kubernetes/client-node, one session per kubeconfig. */
export class KubeClusterPort implements ClusterPort {
  readonly #options: SessionOptions;

  constructor(options: KubeClusterOptions = {}) {
    this.#options = {
      timeoutMs: options.timeoutMs ?? 15_000,
      retry: options.retry ?? KUBE_REQUEST_RETRY,
      random: options.random ?? Math.random,
      clock: options.clock ?? systemClock(),
      tracing: options.tracing ?? NO_TRACING,
    };
  }

  connect(kubeconfig: string): ClusterSession {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig);
    return new KubeClusterSession(kc, this.#options);
  }
}

export class KubeClusterSession implements ClusterSession {
  readonly kubeConfig: KubeConfig;
  readonly #core: CoreV1Api;
  readonly #apps: AppsV1Api;
  readonly #custom: CustomObjectsApi;
  readonly #objects: KubernetesObjectApi;
  readonly #o: SessionOptions;

  constructor(kc: KubeConfig, options: SessionOptions) {
    this.kubeConfig = kc;
    this.#o = options;
    this.#core = apiClient(kc, CoreV1Api);
    this.#apps = apiClient(kc, AppsV1Api);
    this.#custom = apiClient(kc, CustomObjectsApi);
    this.#objects = apiClient(kc, KubernetesObjectApi);
  }

  /** One request, each try with its own timeout; 429 and 5xx answers are retried (see KubeRetryPolicy). */
  #call<T>(what: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const { tracing } = this.#o;
    // Only inside a trace: a request of no command or rotation would be a trace of its own.
    if (!tracing.active()) return this.#tries(what, signal, fn, undefined);
    const attributes = { "labops.k8s.operation": what };
    return inSpan(tracing, `labops.k8s ${what}`, { kind: "client", attributes }, (span) =>
      this.#tries(what, signal, fn, span),
    );
  }

  async #tries<T>(what: string, signal: AbortSignal, fn: () => Promise<T>, span?: TraceSpan): Promise<T> {
    for (let retry = 1; ; retry++) {
      if (signal.aborted) throw new CancelledError();
      try {
        return await callSignal.run(AbortSignal.any([signal, AbortSignal.timeout(this.#o.timeoutMs)]), fn);
      } catch (error) {
        const external = toExternal(error, what, signal);
        // Timeouts and refused connections are left to the step's retries: a request that hung
        // for the whole timeout, repeated here, would hold the step for several timeouts.
        if (!isTransient(external) || retry > this.#o.retry.maxRetries) throw external;
        const delayMs = requestRetryDelay(this.#o.retry, retry, external, this.#o.random);
        span?.addEvent("retry", {
          "labops.attempt": retry,
          "labops.delay_ms": Math.round(delayMs),
          "http.response.status_code": external.status,
        });
        await this.#o.clock.sleep(delayMs, signal);
      }
    }
  }

  async apply(objects: KubeObject[], signal: AbortSignal): Promise<void> {
    // In order: namespaces and CRD-typed objects before what lives in them.
    for (const object of objects) {
      const what = `apply ${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata.name}`;
      await this.#call(what, signal, () =>
        this.#objects.patch(
          object as KubernetesObject,
          undefined,
          undefined,
          FIELD_MANAGER,
          true,
          PatchStrategy.ServerSideApply,
        ),
      );
    }
  }

  async deleteNamespace(name: string, signal: AbortSignal): Promise<"gone" | "terminating"> {
    try {
      await this.#call(`delete namespace ${name}`, signal, () =>
        this.#core.deleteNamespace({ name, propagationPolicy: "Background" }),
      );
      // A second read says whether the namespace controller has finished emptying it.
      await this.#call(`read namespace ${name}`, signal, () => this.#core.readNamespace({ name }));
      return "terminating";
    } catch (error) {
      if (error instanceof ExternalError && error.status === 404) return "gone";
      throw error;
    }
  }

  async getDeployment(
    namespace: string,
    name: string,
    signal: AbortSignal,
  ): Promise<DeploymentState | undefined> {
    try {
      const d = await this.#call(`read deployment ${namespace}/${name}`, signal, () =>
        this.#apps.readNamespacedDeployment({ namespace, name }),
      );
      return {
        name,
        namespace,
        generation: d.metadata?.generation ?? 0,
        observedGeneration: d.status?.observedGeneration ?? 0,
        replicas: d.spec?.replicas ?? 0,
        updatedReplicas: d.status?.updatedReplicas ?? 0,
        readyReplicas: d.status?.readyReplicas ?? 0,
        availableReplicas: d.status?.availableReplicas ?? 0,
        conditions: (d.status?.conditions ?? []).map((c) => ({
          type: c.type,
          status: c.status,
          ...(c.reason ? { reason: c.reason } : {}),
          ...(c.message ? { message: c.message } : {}),
        })),
        annotations: d.metadata?.annotations ?? {},
        templateAnnotations: d.spec?.template.metadata?.annotations ?? {},
      };
    } catch (error) {
      if (error instanceof ExternalError && error.status === 404) return undefined;
      throw error;
    }
  }

  async listPods(namespace: string, labelSelector: string, signal: AbortSignal): Promise<PodState[]> {
    const list = await this.#call(`list pods in ${namespace}`, signal, () =>
      this.#core.listNamespacedPod({ namespace, labelSelector }),
    );
    return list.items.map(podState);
  }

  async listMounts(namespace: string, signal: AbortSignal): Promise<MountState[]> {
    const list = (await this.#call(`list SecretProviderClassPodStatuses in ${namespace}`, signal, () =>
      this.#custom.listNamespacedCustomObject({
        group: SPC_GROUP,
        version: SPC_VERSION,
        namespace,
        plural: "secretproviderclasspodstatuses",
      }),
    )) as { items?: SpcPodStatus[] };
    return (list.items ?? []).map(mountState);
  }

  async listEvents(namespace: string, signal: AbortSignal): Promise<EventInfo[]> {
    const list = await this.#call(`list events in ${namespace}`, signal, () =>
      this.#core.listNamespacedEvent({ namespace }),
    );
    return list.items.map((e) => ({
      reason: e.reason ?? "",
      message: e.message ?? "",
      type: e.type ?? "",
      involvedKind: e.involvedObject.kind ?? "",
      involvedName: e.involvedObject.name ?? "",
      count: e.count ?? 1,
      lastTimestamp: time(e.lastTimestamp ?? e.eventTime),
    }));
  }

  close(): void {
    // client-node keeps no long-lived connection per session; watches are closed by their owners.
  }
}
