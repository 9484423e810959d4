import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Cancel } from "../clock.ts";
import { errorCode } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Leases } from "../ports/leases.ts";
import type { LabRecord, LabRegistry } from "../ports/registry.ts";
import type { RotationThreads } from "../ports/watcher.ts";
import { LabWatcher, type LabWatcherDeps } from "./lab-watcher.ts";

/**
 * The watcher role of one replica: finds the live labs in the registry,
 * takes a lease on each one nobody holds, runs a LabWatcher for every lease
 * it holds, renews them, and lets a lab go when its lease is lost or the lab
 * is no longer ready. Replicas share nothing but Redis: when one dies, its
 * leases lapse and the others' next scan takes its labs over.
 */

export interface RotationWatcherDeps extends LabWatcherDeps {
  registry: LabRegistry;
  leases: Leases;
  threads: RotationThreads;
  /** Identifies this replica in leases and claims; unique per process. */
  holder?: string;
}

interface Owned {
  watcher: LabWatcher;
  started: Promise<void>;
  renewedAt: number;
}

const leaseName = (lab: string) => lab;

/** A lab is watched while it is ready and knows its vault; the rest is not ours to follow. */
function watchable(record: LabRecord): boolean {
  return record.state === "ready" && record.outputs.vaultUri !== undefined;
}

export class RotationWatcher {
  readonly #d: RotationWatcherDeps;
  readonly holder: string;
  readonly #log: Logger;
  readonly #owned = new Map<string, Owned>();
  #cancelScan: Cancel | undefined;
  #cancelRenew: Cancel | undefined;
  #unsubscribe: (() => Promise<void>) | undefined;
  #scanning: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(deps: RotationWatcherDeps) {
    this.#d = deps;
    this.holder = deps.holder ?? `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
    this.#log = deps.logger.child({ component: "watcher", holder: this.holder });
  }

  /** Labs this replica watches now. */
  get labs(): string[] {
    return [...this.#owned.keys()].sort();
  }

  /** Open watch streams across every lab this replica watches. */
  get openWatches(): number {
    let n = 0;
    for (const o of this.#owned.values()) n += o.watcher.openWatches;
    return n;
  }

  watcherOf(lab: string): LabWatcher | undefined {
    return this.#owned.get(lab)?.watcher;
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#d.threads.subscribe((lab) => this.#owned.get(lab)?.watcher.nudge());
    this.#cancelRenew = this.#d.clock.interval(() => void this.#renew(), this.#d.settings.renewEveryMs);
    this.#scheduleScan(0);
    this.#log.info({ leaseTtlMs: this.#d.settings.leaseTtlMs }, "watcher.started");
  }

  /** Drains: every lab watcher finishes what it is saying and saves; then the leases go, for others to take. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#cancelScan?.();
    this.#cancelRenew?.();
    await this.#scanning;
    await this.#unsubscribe?.().catch(() => undefined);
    await Promise.all([...this.#owned.keys()].map((lab) => this.#letGo(lab, true)));
    this.#log.info("watcher.stopped");
  }

  #scheduleScan(delay: number): void {
    if (this.#stopped) return;
    this.#cancelScan = this.#d.clock.timeout(() => {
      this.#scanning = this.#scan().finally(() => this.#scheduleScan(this.#spread(this.#d.settings.scanMs)));
    }, delay);
  }

  /**
   * The scan interval, give or take a fifth, so that replicas started
   * together do not scan in step. A spread around a period, not a back-off
   * (nothing failed, nothing grows): not the clock's `backoff`.
   */
  #spread(ms: number): number {
    return Math.round(ms * (0.8 + 0.4 * this.#d.random()));
  }

  async #scan(): Promise<void> {
    let records: LabRecord[];
    try {
      records = await this.#d.registry.list();
    } catch (error) {
      this.#log.warn({ code: errorCode(error) }, "watcher.registry_unreadable");
      return;
    }
    const live = new Map(records.filter(watchable).map((r) => [r.name, r]));
    for (const lab of [...this.#owned.keys()]) {
      if (live.has(lab)) continue;
      // Destroyed, being destroyed, or gone: stop, and forget its state once the lab itself is gone.
      const record = records.find((r) => r.name === lab);
      await this.#letGo(lab, true);
      if (!record || record.state === "destroyed") {
        await this.#d.store.delete(lab).catch(() => undefined);
      }
    }
    for (const record of live.values()) {
      if (this.#stopped) return;
      if (this.#owned.has(record.name)) continue;
      let acquired = false;
      try {
        acquired = await this.#d.leases.acquire(
          leaseName(record.name),
          this.holder,
          this.#d.settings.leaseTtlMs,
        );
      } catch (error) {
        this.#log.warn({ lab: record.name, code: errorCode(error) }, "watcher.lease_unreachable");
        return;
      }
      if (acquired) this.#take(record);
    }
  }

  #take(record: LabRecord): void {
    const watcher = new LabWatcher(this.#d, record, this.holder, () => void this.#letGo(record.name, false));
    const owned: Owned = { watcher, started: Promise.resolve(), renewedAt: this.#d.clock.now() };
    this.#owned.set(record.name, owned);
    owned.started = watcher.start().catch(async (error: unknown) => {
      // Not through #letGo: it waits for this very promise. The next scan tries the lab again.
      this.#log.warn({ lab: record.name, code: errorCode(error) }, "watcher.lab_start_failed");
      if (this.#owned.get(record.name) === owned) this.#owned.delete(record.name);
      await watcher.stop();
      await this.#d.leases.release(leaseName(record.name), this.holder).catch(() => undefined);
    });
    this.#log.info({ lab: record.name }, "watcher.lease_taken");
  }

  async #letGo(lab: string, release: boolean): Promise<void> {
    const owned = this.#owned.get(lab);
    if (!owned) return;
    this.#owned.delete(lab);
    await owned.started;
    await owned.watcher.stop();
    if (release) {
      await this.#d.leases.release(leaseName(lab), this.holder).catch(() => undefined);
    }
  }

  async #renew(): Promise<void> {
    const now = this.#d.clock.now();
    await Promise.all(
      [...this.#owned.entries()].map(async ([lab, owned]) => {
        try {
          if (await this.#d.leases.renew(leaseName(lab), this.holder, this.#d.settings.leaseTtlMs)) {
            owned.renewedAt = now;
            return;
          }
          this.#log.warn({ lab }, "watcher.lease_lost");
          await this.#letGo(lab, false);
        } catch (error) {
          // Redis unreachable: past the lease's life another replica may own the lab, so stop acting on it.
          if (now - owned.renewedAt >= this.#d.settings.leaseTtlMs) {
            this.#log.warn({ lab, code: errorCode(error) }, "watcher.lease_expired_unrenewed");
            await this.#letGo(lab, false);
          }
        }
      }),
    );
  }
}
