import type { KubeObject } from "./types.ts";

/**
 * One cluster's object store: etcd plus the watch cache, in memory. One
 * revision counter for the whole cluster (resourceVersion), a bounded
 * history of changes per resource for watches that resume from an older
 * revision (older ones get 410 Gone), and synchronous change listeners for
 * the in-process controllers.
 *
 * Stored objects are never mutated: every write stores a fresh object, so a
 * snapshot handed to a watcher stays what it was. The history keeps each
 * change serialised (the JSON a watch sends) with just what selector
 * filtering needs, which costs a third of keeping the objects.
 */

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  storageKey: string;
  type: WatchEventType;
  object: KubeObject;
  /** The object before a MODIFIED or DELETED. */
  prev?: KubeObject;
  rv: number;
}

/** What selectors look at: namespace, labels and the kind's selectable fields. */
export interface Selectable {
  namespace: string;
  labels: Record<string, string> | undefined;
  fields: Record<string, string>;
}

/** A retained change: the object as JSON, and selectable views of it and of its previous version. */
export interface HistoryEntry {
  type: WatchEventType;
  rv: number;
  json: string;
  now: Selectable;
  before: Selectable | undefined;
  /**
   * The previous version at this change's resourceVersion, kept only when
   * the change altered what selectors see: a watch the object leaves is sent
   * it as DELETED (previousJson).
   */
  previousJson?: string;
}

/** Serialises the object once per change, for every watcher and the history. */
export function eventJson(e: StoreEvent & { json?: string }): string {
  if (e.json === undefined) e.json = JSON.stringify(e.object);
  return e.json;
}

/**
 * The object before the change, stamped with the change's resourceVersion:
 * what a watch the object stopped matching is sent as DELETED ("return a
 * delete event with the previous object content, but with the event's
 * resource version", kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/
 * storage/cacher/cache_watcher.go convertToWatchEvent).
 */
export function previousJson(e: StoreEvent & { previousJson?: string }): string {
  if (e.previousJson === undefined) {
    const prev = e.prev ?? e.object;
    e.previousJson = JSON.stringify({
      ...prev,
      metadata: { ...prev.metadata, resourceVersion: String(e.rv) },
    });
  }
  return e.previousJson;
}

function sameSelectable(a: Selectable, b: Selectable): boolean {
  if (a.namespace !== b.namespace) return false;
  const eq = (x: Record<string, string> | undefined, y: Record<string, string> | undefined) => {
    const kx = Object.keys(x ?? {});
    return kx.length === Object.keys(y ?? {}).length && kx.every((k) => x?.[k] === y?.[k]);
  };
  return eq(a.labels, b.labels) && eq(a.fields, b.fields);
}

export interface StoreWatcher {
  deliver(event: StoreEvent): void;
}

class ResourceBucket {
  readonly objects = new Map<string, KubeObject>();
  readonly history: HistoryEntry[] = [];
  /**
   * The oldest revision a watch can resume from: the revision the watch
   * cache was filled at (its first list), then, once changes have dropped
   * out of the history, the one before the oldest retained change. A watch
   * from an older resourceVersion gets 410 "too old resource version: RV
   * (floor)" (watch_cache.go getAllEventsSinceLocked: `resourceVersion <
   * oldest-1`, oldest being listResourceVersion+1 or the first buffered event).
   */
  floorRv: number;
  readonly watchers = new Set<StoreWatcher>();
  constructor(floorRv: number) {
    this.floorRv = floorRv;
  }
}

export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

export interface StoreCounters {
  created: Record<string, number>;
  deleted: Record<string, number>;
}

export class ObjectStore {
  /** Starts above zero like a real cluster, so "0" never names a revision. */
  private revision: number;
  private readonly buckets = new Map<string, ResourceBucket>();
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  /** owner uid -> dependents ("storageKey|ns/name"), for the garbage collector. */
  private readonly dependents = new Map<string, Set<string>>();
  readonly historySize: number;
  /** The revision the API server started at, where every watch cache begins. */
  private readonly startRevision: number;
  readonly counters: StoreCounters = { created: {}, deleted: {} };

  private readonly selectable: (storageKey: string, o: KubeObject) => Selectable;

  constructor(
    selectable: (storageKey: string, o: KubeObject) => Selectable,
    historySize = 100,
    startRevision = 1000,
  ) {
    this.selectable = selectable;
    this.historySize = Math.max(1, historySize);
    this.revision = startRevision;
    this.startRevision = startRevision;
  }

  get currentRevision(): number {
    return this.revision;
  }

  /** A resource's bucket; its watch cache was filled when the API server started. */
  private bucket(storageKey: string): ResourceBucket {
    let b = this.buckets.get(storageKey);
    if (!b) {
      b = new ResourceBucket(this.startRevision);
      this.buckets.set(storageKey, b);
    }
    return b;
  }

  get(storageKey: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.buckets.get(storageKey)?.objects.get(objectKey(namespace, name));
  }

  /** All objects of a resource, optionally in one namespace. */
  list(storageKey: string, namespace?: string): KubeObject[] {
    const b = this.buckets.get(storageKey);
    if (!b) return [];
    const out: KubeObject[] = [];
    if (namespace === undefined) {
      for (const o of b.objects.values()) out.push(o);
    } else {
      const prefix = `${namespace}/`;
      for (const [k, o] of b.objects) if (k.startsWith(prefix)) out.push(o);
    }
    return out;
  }

  count(storageKey: string): number {
    return this.buckets.get(storageKey)?.objects.size ?? 0;
  }

  storageKeys(): string[] {
    return [...this.buckets.keys()];
  }

  /** Next revision; the caller stamps it on the object it is about to store. */
  nextRevision(): number {
    this.revision += 1;
    return this.revision;
  }

  /** Stores `object` (already stamped with `rv`) and tells watchers and listeners. */
  commit(
    storageKey: string,
    type: WatchEventType,
    object: KubeObject,
    prev: KubeObject | undefined,
    rv: number,
  ): void {
    const b = this.bucket(storageKey);
    const key = objectKey(object.metadata.namespace, object.metadata.name ?? "");
    const kind = object.kind ?? storageKey;
    if (type === "DELETED") {
      b.objects.delete(key);
      this.counters.deleted[kind] = (this.counters.deleted[kind] ?? 0) + 1;
    } else {
      b.objects.set(key, object);
      if (type === "ADDED") this.counters.created[kind] = (this.counters.created[kind] ?? 0) + 1;
    }
    this.reindexOwners(storageKey, key, prev, type === "DELETED" ? undefined : object);
    const event: StoreEvent = { storageKey, type, object, rv };
    if (prev) event.prev = prev;
    const now = this.selectable(storageKey, object);
    const before = prev ? this.selectable(storageKey, prev) : undefined;
    const entry: HistoryEntry = { type, rv, json: eventJson(event), now, before };
    if (type === "MODIFIED" && before && !sameSelectable(now, before))
      entry.previousJson = previousJson(event);
    b.history.push(entry);
    if (b.history.length > this.historySize) {
      b.history.splice(0, b.history.length - this.historySize);
      const oldest = b.history[0];
      if (oldest) b.floorRv = oldest.rv - 1;
    }
    for (const w of b.watchers) w.deliver(event);
    for (const l of this.listeners) l(event);
  }

  private reindexOwners(
    storageKey: string,
    key: string,
    prev: KubeObject | undefined,
    next: KubeObject | undefined,
  ) {
    const ref = `${storageKey}|${key}`;
    for (const o of prev?.metadata.ownerReferences ?? []) this.dependents.get(o.uid)?.delete(ref);
    for (const o of next?.metadata.ownerReferences ?? []) {
      let set = this.dependents.get(o.uid);
      if (!set) {
        set = new Set();
        this.dependents.set(o.uid, set);
      }
      set.add(ref);
    }
    for (const o of prev?.metadata.ownerReferences ?? []) {
      if (this.dependents.get(o.uid)?.size === 0) this.dependents.delete(o.uid);
    }
  }

  /** Objects whose ownerReferences name `uid`. */
  dependentsOf(uid: string): { storageKey: string; object: KubeObject }[] {
    const refs = this.dependents.get(uid);
    if (!refs) return [];
    const out: { storageKey: string; object: KubeObject }[] = [];
    for (const ref of refs) {
      const bar = ref.indexOf("|");
      const storageKey = ref.slice(0, bar);
      const obj = this.buckets.get(storageKey)?.objects.get(ref.slice(bar + 1));
      if (obj) out.push({ storageKey, object: obj });
    }
    return out;
  }

  /**
   * Changes of a resource after revision `since`, or `undefined` when some of
   * them are no longer retained (the caller answers 410 Gone).
   */
  changesSince(storageKey: string, since: number): HistoryEntry[] | undefined {
    const b = this.bucket(storageKey);
    if (since < b.floorRv) return undefined;
    return b.history.filter((e) => e.rv > since);
  }

  /** The revision below which resuming a watch of this resource is refused. */
  compactedRevision(storageKey: string): number {
    return this.bucket(storageKey).floorRv;
  }

  /** Drops the retained history (the watch cache relisted), so watches from before now get 410. */
  compact(storageKey?: string): void {
    for (const [key, b] of this.buckets) {
      if (storageKey !== undefined && key !== storageKey) continue;
      b.history.length = 0;
      b.floorRv = this.revision;
    }
  }

  addWatcher(storageKey: string, w: StoreWatcher): () => void {
    const b = this.bucket(storageKey);
    b.watchers.add(w);
    return () => {
      b.watchers.delete(w);
    };
  }

  watcherCount(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.watchers.size;
    return n;
  }

  onChange(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Releases everything (cluster deleted). */
  clear(): void {
    for (const b of this.buckets.values()) {
      b.objects.clear();
      b.history.length = 0;
      b.watchers.clear();
    }
    this.buckets.clear();
    this.listeners.clear();
    this.dependents.clear();
  }
}
