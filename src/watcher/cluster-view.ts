import type { Clock } from "../clock.ts";
import type { PodState } from "../ports/cluster.ts";
import {
  type ClusterWatchSink,
  WATCH_KINDS,
  type WatchedDeployment,
  type WatchedEvent,
  type WatchedObjects,
  type WatchedReplicaSet,
  type WatchKind,
} from "../ports/cluster-watch.ts";
import type { ClusterObservation, PodObservation, ReloadObservation } from "./trace.ts";

/**
 * One lab's cluster as its watches report it, with the time of every change
 * that matters to a rotation, on the watcher's clock. Timestamps written by
 * the cluster have one-second resolution (and a real API server's clock);
 * the moment a watch event arrives is finer, and the same clock as the
 * vault's versions as far as the watcher can tell. Objects seen in a first
 * list (at start, or after the watcher restarted) get the cluster's own
 * timestamps instead, since nobody saw them change.
 *
 * The view keeps histories, not just the current state: a trace may start
 * after the cluster already acted on its version (the vault poll noticed it
 * late), and asks what happened at and after the version was written.
 */

interface PodEntry {
  state: PodState;
  /** When the pod appeared (watch time), or its creationTimestamp when first seen in a list. */
  createdAt: number;
  /** In the first list: its restarts happened before the watcher looked. */
  fromList: boolean;
  readyAt: number | undefined;
  deletingAt: number | undefined;
}

interface GonePod {
  name: string;
  createdAt: number;
  removedAt: number;
}

interface MountEntry {
  versions: Record<string, string>;
  /** Object -> when its current version was first seen. */
  since: Record<string, number>;
}

export interface PodRestartView {
  name: string;
  replicaSet: string | undefined;
  restartCount: number;
  reason: string | undefined;
  /** Seen first in a list, not created while watched. */
  fromList: boolean;
}

/** Something that took pods away with no vault change behind it (not a rollout's scale-down). */
export interface PodSignal {
  pod: string;
  kind: "evicted" | "deleted";
  at: number;
}

export interface ClusterViewOptions {
  /** The watcher's clock: when a change arrives is read from it. */
  clock: Pick<Clock, "now">;
  /** Called after every change the watches deliver (the owner coalesces). */
  onChange: () => void;
  /** Called when the synced Secret's data changes: a new version reached the cluster, so look at the vault. */
  onSecretChange?: () => void;
  deployment: string;
  /** How long histories and vanished pods are remembered. */
  retentionMs: number;
}

const HISTORY = 64;

function pushBounded(list: number[], t: number): void {
  list.push(t);
  if (list.length > HISTORY) list.splice(0, list.length - HISTORY);
}

export class LabClusterView implements ClusterWatchSink {
  readonly #o: ClusterViewOptions;
  readonly #listed = new Set<WatchKind>();
  #secretKeys: Record<string, string> | undefined;
  #secretName = "";
  readonly #keyChanges = new Map<string, number[]>();
  #deployment: WatchedDeployment | undefined;
  readonly #reloads: ReloadObservation[] = [];
  readonly #replicaSets = new Map<string, { rs: WatchedReplicaSet; createdAt: number }>();
  readonly #pods = new Map<string, PodEntry>();
  #gone: GonePod[] = [];
  readonly #mounts = new Map<string, MountEntry>();
  readonly #events = new Map<string, WatchedEvent>();
  readonly #mountFailures = new Map<string, { message: string; at: number; count: number }>();
  readonly #driverEvents: number[] = [];
  /** Any event of the CSI driver's rotation reconciler (MountRotation…, SecretRotation…; v1.6 has none). */
  readonly #reconcilerEvents: number[] = [];
  #signals: PodSignal[] = [];

  constructor(options: ClusterViewOptions) {
    this.#o = options;
  }

  /** Every watch has listed once: only then is the view a picture of the cluster. */
  get synced(): boolean {
    return WATCH_KINDS.every((k) => this.#listed.has(k));
  }

  // --- ClusterWatchSink ---

  replace<K extends WatchKind>(kind: K, objects: WatchedObjects[K][]): void {
    // The first list is the starting point; a later one (after 410 Gone) is a diff against what was known.
    const live = this.#listed.has(kind);
    this.#listed.add(kind);
    const keep = new Set<string>();
    for (const o of objects) {
      keep.add(this.#keyOf(kind, o));
      this.#apply(kind, o, live);
    }
    for (const key of this.#keysOf(kind)) {
      if (!keep.has(key)) this.#remove(kind, key);
    }
    this.#o.onChange();
  }

  upsert<K extends WatchKind>(kind: K, object: WatchedObjects[K]): void {
    this.#apply(kind, object, true);
    this.#o.onChange();
  }

  remove<K extends WatchKind>(kind: K, object: WatchedObjects[K]): void {
    this.#remove(kind, this.#keyOf(kind, object));
    this.#o.onChange();
  }

  #keyOf<K extends WatchKind>(kind: K, o: WatchedObjects[K]): string {
    switch (kind) {
      case "event":
        return (o as WatchedEvent).uid;
      case "mount":
        return (o as WatchedObjects["mount"]).podName;
      default:
        return (o as { name: string }).name;
    }
  }

  #keysOf(kind: WatchKind): string[] {
    switch (kind) {
      case "secret":
        return this.#secretKeys ? [this.#secretName] : [];
      case "deployment":
        return this.#deployment ? [this.#deployment.name] : [];
      case "replicaset":
        return [...this.#replicaSets.keys()];
      case "pod":
        return [...this.#pods.keys()];
      case "mount":
        return [...this.#mounts.keys()];
      case "event":
        return [...this.#events.keys()];
    }
  }

  #apply<K extends WatchKind>(kind: K, object: WatchedObjects[K], live: boolean): void {
    const now = this.#o.clock.now();
    switch (kind) {
      case "secret": {
        const { keys, name } = object as WatchedObjects["secret"];
        const before = this.#secretKeys;
        this.#secretName = name;
        let changed = false;
        for (const [k, digest] of Object.entries(keys)) {
          if (before?.[k] === digest || (!live && before === undefined)) continue;
          const list = this.#keyChanges.get(k) ?? [];
          pushBounded(list, now);
          this.#keyChanges.set(k, list);
          changed = true;
        }
        this.#secretKeys = { ...keys };
        if (changed) this.#o.onSecretChange?.();
        return;
      }
      case "deployment": {
        const d = object as WatchedDeployment;
        const before = this.#deployment;
        if (d.reloadMarker !== undefined && d.reloadMarker !== before?.reloadMarker) {
          // Seen changing: now. Found already done: Reloader's own timestamp (whole seconds), if it left one.
          const seen = live && before !== undefined;
          const at = seen ? now : d.reloadedAt;
          if (at !== undefined) {
            this.#reloads.push({ at, marker: d.reloadMarker, ...(seen ? {} : { coarse: true }) });
            if (this.#reloads.length > HISTORY) this.#reloads.splice(0, this.#reloads.length - HISTORY);
          }
        }
        this.#deployment = d;
        return;
      }
      case "replicaset": {
        const rs = object as WatchedReplicaSet;
        const known = this.#replicaSets.get(rs.name);
        this.#replicaSets.set(rs.name, {
          rs,
          createdAt: known?.createdAt ?? (live ? now : (rs.createdAt ?? now)),
        });
        return;
      }
      case "pod": {
        const state = object as PodState;
        const known = this.#pods.get(state.name);
        const entry: PodEntry = known ?? {
          state,
          createdAt: live ? now : (state.createdAt ?? now),
          fromList: !live,
          readyAt: undefined,
          deletingAt: undefined,
        };
        if (state.ready && !(known?.state.ready ?? false)) {
          entry.readyAt = live ? now : (state.readyAt ?? now);
        }
        if (!state.ready) entry.readyAt = undefined;
        if (state.deletionTimestamp !== undefined && entry.deletingAt === undefined) {
          entry.deletingAt = live ? now : state.deletionTimestamp;
          if (live) this.#noteDeletion(state, now);
        }
        if (live && state.reason === "Evicted" && known?.state.reason !== "Evicted") {
          this.#signals.push({ pod: state.name, kind: "evicted", at: now });
        }
        entry.state = state;
        this.#pods.set(state.name, entry);
        return;
      }
      case "mount": {
        const m = object as WatchedObjects["mount"];
        const before = this.#mounts.get(m.podName);
        const since: Record<string, number> = {};
        for (const [obj, version] of Object.entries(m.versions)) {
          const prev = before?.versions[obj] === version ? before.since[obj] : undefined;
          since[obj] = prev ?? now;
        }
        this.#mounts.set(m.podName, { versions: { ...m.versions }, since });
        return;
      }
      case "event": {
        const e = object as WatchedEvent;
        const before = this.#events.get(e.uid);
        this.#events.set(e.uid, e);
        // Events already there when the watcher looked are history: only new occurrences count.
        const fresh = before ? e.count > before.count : live;
        if (!fresh) {
          if (!live && (e.reason === "FailedMount" || e.reason === "MountRotationFailed")) {
            this.#mountFailures.set(e.involvedName, {
              message: e.message,
              at: e.lastAt ?? now,
              count: e.count,
            });
          }
          return;
        }
        if (/^(Mount|Secret)Rotation/.test(e.reason)) pushBounded(this.#reconcilerEvents, now);
        if (e.reason === "FailedMount" || e.reason === "MountRotationFailed") {
          this.#mountFailures.set(e.involvedName, { message: e.message, at: now, count: e.count });
        } else if (e.reason === "SecretRotationComplete") {
          pushBounded(this.#driverEvents, now);
        } else if (e.reason === "Evicted" && e.involvedKind === "Pod") {
          this.#signals.push({ pod: e.involvedName, kind: "evicted", at: now });
        }
        return;
      }
    }
  }

  /**
   * A pod of the newest ReplicaSet going away while the deployment still
   * wants as many is not a rollout's scale-down: someone or something
   * (eviction, a drain, a delete) took it.
   */
  #noteDeletion(pod: PodState, at: number): void {
    const newest = this.#newestReplicaSet();
    if (!newest || pod.ownerReplicaSet !== newest.rs.name) return;
    if (this.#deployment && newest.rs.replicas < this.#deployment.replicas) return;
    if (this.#deployment && this.#deployment.replicas === 0) return;
    this.#signals.push({ pod: pod.name, kind: "deleted", at });
  }

  #remove(kind: WatchKind, key: string): void {
    const now = this.#o.clock.now();
    switch (kind) {
      case "secret":
        this.#secretKeys = undefined;
        return;
      case "deployment":
        this.#deployment = undefined;
        return;
      case "replicaset":
        this.#replicaSets.delete(key);
        return;
      case "pod": {
        const entry = this.#pods.get(key);
        if (entry) {
          this.#gone.push({ name: key, createdAt: entry.createdAt, removedAt: now });
          this.#gone = this.#gone.filter((g) => now - g.removedAt < this.#o.retentionMs).slice(-200);
        }
        this.#pods.delete(key);
        this.#mountFailures.delete(key);
        return;
      }
      case "mount":
        this.#mounts.delete(key);
        return;
      case "event":
        this.#events.delete(key);
        return;
    }
  }

  #ownReplicaSets() {
    const name = this.#o.deployment;
    return [...this.#replicaSets.values()].filter((e) => e.rs.deployment === name);
  }

  #newestReplicaSet() {
    return this.#ownReplicaSets().sort((a, b) => b.rs.revision - a.rs.revision)[0];
  }

  // --- what the watcher asks ---

  /** The cluster as it bears on one secret's rotation. */
  observationFor(secret: string): ClusterObservation {
    const synced =
      this.#secretKeys === undefined || secret in this.#secretKeys
        ? [...(this.#keyChanges.get(secret) ?? [])]
        : undefined;
    const pods: PodObservation[] = [...this.#pods.values()].map((e) => {
      const mount = this.#mounts.get(e.state.name);
      const obs: PodObservation = {
        name: e.state.name,
        replicaSet: e.state.ownerReplicaSet,
        createdAt: e.createdAt,
        ready: e.state.ready,
        readyAt: e.readyAt,
        reason: e.state.reason,
        restartCount: e.state.restartCount,
        deleting: e.state.deletionTimestamp !== undefined,
        mountedVersion: mount?.versions[secret],
      };
      const since = mount?.since[secret];
      if (since !== undefined) obs.mountedAt = since;
      return obs;
    });
    return {
      syncedChanges: synced,
      reloads: [...this.#reloads],
      replicaSets: this.#ownReplicaSets().map((e) => ({
        name: e.rs.name,
        revision: e.rs.revision,
        createdAt: e.createdAt,
        reloadMarker: e.rs.reloadMarker,
      })),
      desiredReplicas: this.#deployment?.replicas ?? 0,
      pods,
      mountedByAny:
        [...this.#mounts.values()].some((m) => m.versions[secret] !== undefined) ||
        (this.#secretKeys !== undefined && secret in this.#secretKeys),
      mountFailures: [...this.#mountFailures.entries()].map(([pod, f]) => ({ pod, ...f })),
      reconcilerEvents: [...this.#reconcilerEvents],
    };
  }

  /** Pods that were running when `at` came, including ones gone since. */
  podsAt(at: number): string[] {
    const alive = [...this.#pods.values()]
      .filter((e) => e.createdAt <= at && (e.deletingAt === undefined || e.deletingAt > at))
      .map((e) => e.state.name);
    const gone = this.#gone.filter((g) => g.createdAt <= at && g.removedAt > at).map((g) => g.name);
    return [...new Set([...alive, ...gone])].sort();
  }

  /** The deployment's newest ReplicaSet as of `at`. */
  replicaSetAt(at: number): string | undefined {
    return this.#ownReplicaSets()
      .filter((e) => e.createdAt <= at)
      .sort((a, b) => b.rs.revision - a.rs.revision)[0]?.rs.name;
  }

  /** Whether the deployment asks Reloader to roll it (auto, or an explicit reload list). */
  get reloaderConfigured(): boolean | undefined {
    const d = this.#deployment;
    if (!d) return undefined;
    return Object.entries(d.reloaderAnnotations).some(
      ([k, v]) => (k.endsWith("/auto") && v === "true") || k.endsWith("/reload"),
    );
  }

  /** SecretRotationComplete events between two moments: folded into a trace, never posted one by one. */
  driverEventsBetween(from: number, to: number): number {
    return this.#driverEvents.filter((t) => t >= from && t <= to).length;
  }

  /** Live pods with their restart counts, for restart accounting. */
  podRestarts(): PodRestartView[] {
    return [...this.#pods.values()]
      .filter((e) => e.state.deletionTimestamp === undefined)
      .map((e) => ({
        name: e.state.name,
        replicaSet: e.state.ownerReplicaSet,
        restartCount: e.state.restartCount,
        reason: e.state.reason,
        fromList: e.fromList,
      }));
  }

  /** Evictions and deletions seen since the last call. */
  takeSignals(): PodSignal[] {
    const out = this.#signals;
    this.#signals = [];
    return out;
  }

  /** Pods the view knows (alive or terminating), for pruning per-pod bookkeeping. */
  podNames(): Set<string> {
    return new Set(this.#pods.keys());
  }
}
