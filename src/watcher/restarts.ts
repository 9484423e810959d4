import { errorCode } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ChatAddress, ChatPort } from "../ports/chat.ts";
import type { Metrics } from "../ports/metrics.ts";
import type { LabWatchState } from "../ports/watcher.ts";
import type { AlertOutbox } from "./alert-outbox.ts";
import { restartCard } from "./alerts.ts";
import type { LabClusterView } from "./cluster-view.ts";
import type { WatcherSettings } from "./settings.ts";

/**
 * Restarts with no vault change behind them: container restarts, evictions
 * and deletions of the lab's pods that are no rotation's doing. Those seen
 * together (within restartGatherMs of the first) make one report, at most
 * one thread per restartWindowMs; later ones update its card. The counts
 * live in the lab's watch state (restartBaseline, restarts), so a successor
 * replica neither reports old restarts again nor opens a second thread.
 */

export interface RestartAccountingDeps {
  lab: string;
  address: ChatAddress;
  view: LabClusterView;
  chat: ChatPort;
  outbox: AlertOutbox;
  metrics: Metrics;
  settings: WatcherSettings;
  log: Logger;
}

interface Found {
  pod: string;
  restarts: number;
  reason?: string;
  replaced?: boolean;
}

export class RestartAccounting {
  readonly #d: RestartAccountingDeps;
  /** The report changed since its card was last posted or updated. */
  #dirty = false;

  constructor(deps: RestartAccountingDeps) {
    this.#d = deps;
  }

  /** Folds what the view saw since the last call into `state`, and says it when due. */
  async account(state: LabWatchState, now: number): Promise<void> {
    this.#gather(state, now);
    await this.#report(state, now);
  }

  #gather(state: LabWatchState, now: number): void {
    const { view, settings } = this.#d;
    // A new pod of a rotation under way that restarts is that rotation's story (its stuck alert), not this one's.
    const ofTraces = new Set(state.traces.flatMap((t) => Object.keys(t.newPods)));
    const found: Found[] = [];
    for (const p of view.podRestarts()) {
      const base = state.restartBaseline[p.name] ?? (p.fromList ? p.restartCount : 0);
      if (p.restartCount > base && !ofTraces.has(p.name)) {
        found.push({
          pod: p.name,
          restarts: p.restartCount - base,
          ...(p.reason !== undefined ? { reason: p.reason } : {}),
        });
      }
      state.restartBaseline[p.name] = p.restartCount;
    }
    const known = view.podNames();
    for (const name of Object.keys(state.restartBaseline)) {
      if (!known.has(name)) delete state.restartBaseline[name];
    }
    for (const s of view.takeSignals()) {
      if (!ofTraces.has(s.pod)) found.push({ pod: s.pod, restarts: 0, replaced: true, reason: s.kind });
    }
    if (found.length === 0) return;
    let report = state.restarts;
    if (!report || now - report.openedAt >= settings.restartWindowMs) {
      report = { openedAt: now, thread: undefined, pods: {}, lastAt: now };
    }
    for (const f of found) {
      const entry = report.pods[f.pod] ?? { restarts: 0 };
      entry.restarts += f.restarts;
      if (f.reason) entry.reason = f.reason;
      if (f.replaced) entry.replaced = true;
      report.pods[f.pod] = entry;
    }
    report.lastAt = now;
    state.restarts = report;
    this.#dirty = true;
  }

  async #report(state: LabWatchState, now: number): Promise<void> {
    const { chat, settings, log } = this.#d;
    const report = state.restarts;
    if (!report || !this.#dirty) return;
    const card = restartCard(report, { lab: this.#d.lab, windowMs: settings.restartWindowMs });
    if (report.thread) {
      this.#dirty = false;
      await chat.updateCard(report.thread, card).catch((error: unknown) => {
        log.warn({ code: errorCode(error) }, "watcher.alert_failed");
      });
      return;
    }
    // Wait a little so that restarts arriving together make one report.
    if (now - report.openedAt < settings.restartGatherMs) return;
    const said = await this.#d.outbox.send(`restarts:${report.openedAt}`, now, async () => {
      // Kept at once: should the mark fail, the next round updates this thread rather than open another.
      report.thread = await chat.postAlert(this.#d.address, card);
      return report.thread;
    });
    if (!said) return;
    report.thread = said.thread;
    if (!said.postedNow) return;
    this.#d.metrics.alertPosted("restart");
    this.#dirty = false;
    log.warn({ pods: Object.keys(report.pods).length }, "watcher.restarts_reported");
  }
}
