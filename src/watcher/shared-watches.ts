import type {
  ClusterWatch,
  ClusterWatchPort,
  ClusterWatchSink,
  WatchedObjects,
  WatchKind,
  WatchScope,
} from "../ports/cluster-watch.ts";

/**
 * The watches of a host cluster, shared by the labs on it: one watch per
 * resource type across every namespace, whatever the number of teams, and
 * each object routed to the lab whose namespace it is in. A lab that joins
 * a host already watched gets, at once, what the host's watches have seen
 * in its namespace (as a list would give it); the watches stop when the last
 * lab on the host lets go. A lab with no `shareKey` (a dedicated lab) gets
 * watches of its own, as before.
 *
 * Credentials: the labs of one host present the same cluster-user
 * credential. When the shared watches keep failing with 401/403, each lab's
 * link fetches a fresh kubeconfig and subscribes again; the first fresh one
 * restarts the shared watches with it.
 */

type AnyWatched = WatchedObjects[WatchKind];

function namespaceOf(object: AnyWatched): string {
  return object.namespace ?? "";
}

function keyOf(object: AnyWatched): string {
  const id = "uid" in object ? object.uid : "podName" in object ? object.podName : object.name;
  return `${namespaceOf(object)}/${id}`;
}

interface Subscriber {
  namespace: string;
  sink: ClusterWatchSink;
}

class HostWatch {
  readonly #inner: ClusterWatchPort;
  readonly #scope: WatchScope;
  readonly #subscribers = new Set<Subscriber>();
  /** What the watches have listed (kinds not listed yet are absent), by namespace/name. */
  readonly #seen = new Map<WatchKind, Map<string, AnyWatched>>();
  #kubeconfig: string;
  #watch: ClusterWatch;
  #authFailing = false;

  constructor(inner: ClusterWatchPort, kubeconfig: string, scope: WatchScope) {
    this.#inner = inner;
    this.#scope = { ...scope, allNamespaces: true };
    this.#kubeconfig = kubeconfig;
    this.#watch = inner.watch(kubeconfig, this.#scope, this.#sink());
  }

  get openWatches(): number {
    return this.#watch.openWatches;
  }

  get subscribers(): number {
    return this.#subscribers.size;
  }

  subscribe(namespace: string, sink: ClusterWatchSink, kubeconfig: string): Subscriber {
    const subscriber = { namespace, sink };
    this.#subscribers.add(subscriber);
    for (const [kind, objects] of this.#seen) {
      sink.replace(
        kind,
        [...objects.values()].filter((o) => namespaceOf(o) === namespace),
      );
    }
    if (this.#authFailing && kubeconfig !== this.#kubeconfig) this.#restart(kubeconfig);
    return subscriber;
  }

  /** True when it was the last subscriber (the caller then stops the watches). */
  unsubscribe(subscriber: Subscriber): boolean {
    this.#subscribers.delete(subscriber);
    return this.#subscribers.size === 0;
  }

  stop(): Promise<void> {
    return this.#watch.stop();
  }

  #restart(kubeconfig: string): void {
    const old = this.#watch;
    this.#authFailing = false;
    this.#kubeconfig = kubeconfig;
    this.#watch = this.#inner.watch(kubeconfig, this.#scope, this.#sink());
    void old.stop();
  }

  #each(object: AnyWatched, call: (sink: ClusterWatchSink) => void): void {
    const namespace = namespaceOf(object);
    for (const s of this.#subscribers) if (s.namespace === namespace) call(s.sink);
  }

  #sink(): ClusterWatchSink {
    return {
      replace: (kind, objects) => {
        this.#authFailing = false;
        this.#seen.set(kind, new Map(objects.map((o) => [keyOf(o), o])));
        for (const s of this.#subscribers) {
          s.sink.replace(
            kind,
            objects.filter((o) => namespaceOf(o) === s.namespace),
          );
        }
      },
      upsert: (kind, object) => {
        this.#seen.get(kind)?.set(keyOf(object), object);
        this.#each(object, (sink) => sink.upsert(kind, object));
      },
      remove: (kind, object) => {
        this.#seen.get(kind)?.delete(keyOf(object));
        this.#each(object, (sink) => sink.remove(kind, object));
      },
      failed: (kind, error, retryInMs) => {
        const status = (error as { statusCode?: number }).statusCode;
        if (status === 401 || status === 403) this.#authFailing = true;
        for (const s of this.#subscribers) s.sink.failed?.(kind, error, retryInMs);
      },
    };
  }
}

export class SharedClusterWatches implements ClusterWatchPort {
  readonly #inner: ClusterWatchPort;
  readonly #hosts = new Map<string, HostWatch>();

  constructor(inner: ClusterWatchPort) {
    this.#inner = inner;
  }

  /** Host clusters watched now, with how many labs share each (for tests and the bench). */
  get hosts(): Record<string, { labs: number; openWatches: number }> {
    const out: Record<string, { labs: number; openWatches: number }> = {};
    for (const [key, h] of this.#hosts) out[key] = { labs: h.subscribers, openWatches: h.openWatches };
    return out;
  }

  watch(kubeconfig: string, scope: WatchScope, sink: ClusterWatchSink): ClusterWatch {
    const key = scope.shareKey;
    if (key === undefined) return this.#inner.watch(kubeconfig, scope, sink);
    let host = this.#hosts.get(key);
    if (!host) {
      host = new HostWatch(this.#inner, kubeconfig, scope);
      this.#hosts.set(key, host);
    }
    const shared = host;
    const subscriber = shared.subscribe(scope.namespace, sink, kubeconfig);
    let stopped = false;
    return {
      get openWatches() {
        return stopped ? 0 : shared.openWatches;
      },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        if (!shared.unsubscribe(subscriber)) return;
        if (this.#hosts.get(key) === shared) this.#hosts.delete(key);
        await shared.stop();
      },
    };
  }
}
