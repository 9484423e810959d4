import type { EmulatorClock } from "../../shared/clock.ts";
import type { ClusterApi } from "../api.ts";
import type { StoreEvent } from "../store.ts";
import type { KubeObject } from "../types.ts";
import type { EventRecorder } from "./events.ts";

/**
 * A controller work queue on the emulator clock: keys are de-duplicated,
 * processed one at a time in batches soon after they are added, and can be
 * re-added after a delay. A failing key is retried with exponential back-off
 * like client-go's default rate limiter (5 ms doubling, capped).
 */
export class WorkQueue {
  private readonly clock: EmulatorClock;
  private readonly process: (key: string) => void;
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, { at: number; cancel: () => void }>();
  private readonly failures = new Map<string, number>();
  private scheduled = false;
  private stopped = false;
  private readonly onError: (key: string, error: unknown) => void;

  constructor(
    clock: EmulatorClock,
    process: (key: string) => void,
    onError: (key: string, error: unknown) => void = () => {},
  ) {
    this.clock = clock;
    this.process = process;
    this.onError = onError;
  }

  add(key: string): void {
    if (this.stopped) return;
    this.dirty.add(key);
    this.kick();
  }

  /** Adds `key` after `ms` of emulated time; an earlier pending add wins. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.cancel();
    const cancel = this.clock.schedule(ms, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { at, cancel });
  }

  private kick(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.clock.schedule(0, () => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    if (this.stopped) return;
    const keys = [...this.dirty];
    this.dirty.clear();
    for (const key of keys) {
      try {
        this.process(key);
        this.failures.delete(key);
      } catch (e) {
        const n = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, n);
        this.onError(key, e);
        this.addAfter(key, Math.min(5 * 2 ** n, 60_000));
      }
    }
  }

  get length(): number {
    return this.dirty.size + this.delayed.size;
  }

  stop(): void {
    this.stopped = true;
    for (const d of this.delayed.values()) d.cancel();
    this.delayed.clear();
    this.dirty.clear();
  }
}

/**
 * The shape of kube-controller-manager's keyed controllers: store changes
 * map to `namespace/name` keys of the owning object, and one work queue
 * syncs each key against the store.
 */
export abstract class KeyedController {
  protected readonly api: ClusterApi;
  protected readonly events: EventRecorder;
  protected readonly queue: WorkQueue;
  private readonly unsubscribe: () => void;

  constructor(api: ClusterApi, events: EventRecorder) {
    this.api = api;
    this.events = events;
    this.queue = new WorkQueue(api.clock, (k) => this.sync(k));
    this.unsubscribe = api.store.onChange((e) => this.onChange(e));
  }

  stop(): void {
    this.unsubscribe();
    this.queue.stop();
  }

  /** Queues `namespace/name` of `object`, or of `name` in its namespace. */
  protected enqueue(object: KubeObject, name = object.metadata.name ?? ""): void {
    this.queue.add(`${object.metadata.namespace ?? ""}/${name}`);
  }

  protected abstract onChange(e: StoreEvent): void;
  protected abstract sync(key: string): void;
}
