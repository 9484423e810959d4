import type { ThreadRef } from "../../src/ports/chat.ts";
import type {
  AlertClaim,
  LabWatchState,
  RotationThread,
  RotationThreads,
  WatchStateStore,
} from "../../src/ports/watcher.ts";
import type { MemoryLeases } from "./leases.ts";

/**
 * The watcher's state in memory, fenced by the watcher's leases as the Redis
 * store is by its lease keys: a save or a claim by anyone but the lab's
 * current lease holder changes nothing.
 */
export class MemoryWatchStateStore implements WatchStateStore {
  readonly #leases: MemoryLeases;
  readonly #states = new Map<string, LabWatchState>();
  readonly #alerts = new Map<string, Map<string, { posted: boolean; thread?: ThreadRef }>>();
  /** How many times `claimAlert` was asked (tests count round trips). */
  claims = 0;

  /** `leases`: the watcher's leases (one per lab, named after it). */
  constructor(leases: MemoryLeases) {
    this.#leases = leases;
  }

  async load(lab: string): Promise<LabWatchState | undefined> {
    return this.peek(lab);
  }

  async save(state: LabWatchState, holder: string): Promise<boolean> {
    if (this.#leases.holderNow(state.lab) !== holder) return false;
    this.#states.set(state.lab, structuredClone(state));
    return true;
  }

  async delete(lab: string): Promise<void> {
    this.#states.delete(lab);
    this.#alerts.delete(lab);
  }

  async claimAlert(lab: string, id: string, holder: string): Promise<AlertClaim> {
    this.claims += 1;
    if (this.#leases.holderNow(lab) !== holder) return { outcome: "lease_lost" };
    const alerts = this.#alerts.get(lab) ?? new Map<string, { posted: boolean; thread?: ThreadRef }>();
    this.#alerts.set(lab, alerts);
    const alert = alerts.get(id);
    if (alert?.posted) return { outcome: "posted", thread: alert.thread && structuredClone(alert.thread) };
    alerts.set(id, { posted: false });
    return { outcome: "claimed" };
  }

  async markPosted(lab: string, id: string, thread: ThreadRef | undefined): Promise<void> {
    const alerts = this.#alerts.get(lab) ?? new Map<string, { posted: boolean; thread?: ThreadRef }>();
    this.#alerts.set(lab, alerts);
    alerts.set(id, { posted: true, ...(thread ? { thread: structuredClone(thread) } : {}) });
  }

  /** Alert `id` of `lab` as stored right now (a copy): claimed (not posted) or posted, and where. */
  peekAlert(lab: string, id: string): { posted: boolean; thread?: ThreadRef } | undefined {
    const alert = this.#alerts.get(lab)?.get(id);
    return alert && structuredClone(alert);
  }

  /** The state of `lab` as stored right now (a copy), for tests that wait on it. */
  peek(lab: string): LabWatchState | undefined {
    const state = this.#states.get(lab);
    return state && structuredClone(state);
  }
}

/** Rotation threads in memory; a registration is told to every subscriber, as Redis's pub/sub tells every replica. */
export class MemoryRotationThreads implements RotationThreads {
  readonly #threads = new Map<string, RotationThread>();
  readonly #listeners = new Set<(lab: string) => void>();

  async register(entry: RotationThread): Promise<void> {
    this.#threads.set(key(entry.lab, entry.secret, entry.version), structuredClone(entry));
    // Told after the registration, never inside it, as a Redis subscriber hears it.
    for (const listener of [...this.#listeners]) queueMicrotask(() => listener(entry.lab));
  }

  async find(lab: string, secret: string, version: string): Promise<RotationThread | undefined> {
    const entry = this.#threads.get(key(lab, secret, version));
    return entry && structuredClone(entry);
  }

  async subscribe(listener: (lab: string) => void): Promise<() => Promise<void>> {
    // Each subscription is its own, even for the same function (as each Redis subscriber is).
    const own = (lab: string) => listener(lab);
    this.#listeners.add(own);
    return async () => {
      this.#listeners.delete(own);
    };
  }
}

const key = (lab: string, secret: string, version: string) => JSON.stringify([lab, secret, version]);
