import type { Cancel, Clock } from "../clock.ts";
import { errorCode } from "../errors.ts";
import { labNamesOf } from "../labs/naming.ts";
import type { Logger } from "../log.ts";
import type { AzureLabPort, KeyVaultPort, SecretVersionInfo } from "../ports/azure.ts";
import type { ChatPort } from "../ports/chat.ts";
import type { ClusterPort } from "../ports/cluster.ts";
import type { ClusterWatchPort } from "../ports/cluster-watch.ts";
import type { Metrics } from "../ports/metrics.ts";
import type { LabRecord } from "../ports/registry.ts";
import type { Tracing } from "../ports/tracing.ts";
import type { LabWatchState, RotationThreads, WatchStateStore } from "../ports/watcher.ts";
import { AlertOutbox, LeaseLostError } from "./alert-outbox.ts";
import { ClusterLink } from "./cluster-link.ts";
import { LabClusterView } from "./cluster-view.ts";
import { RestartAccounting } from "./restarts.ts";
import type { WatcherSettings } from "./settings.ts";
import { type Diagnosis, deadlineFor, diagnose, earlyStuck, type StuckReport } from "./stuck.ts";
import { completeIfSameValue, HOPS, observe, pendingHop, startTrace, type TraceState } from "./trace.ts";
import { TraceAlerts } from "./trace-alerts.ts";
import { newVersions, VaultPoll } from "./vault-poll.ts";

/**
 * The watcher of one lab, run by the replica that holds the lab's lease:
 * the vault poll starts a trace for each new version, the cluster watches
 * feed every trace, and each trace says what it has to say exactly once, in
 * the rotate command's thread when labops made the change, else in an alert
 * thread of its own.
 *
 * Everything that changes the lab's state runs one step at a time on a
 * queue (vault results, evaluations, alerts), and the state is saved, fenced
 * by the lease, after every step that changed it. A successor replica loads
 * it and goes on: it neither starts a finished trace again nor repeats an
 * alert (alerts go through the outbox, claimed in Redis before they are
 * posted).
 *
 * Around it: the cluster link (cluster-link.ts), the vault poll
 * (vault-poll.ts), what a trace says and where (trace-alerts.ts), the alert
 * outbox they all post through (alert-outbox.ts) and the restart accounting
 * (restarts.ts).
 */

export interface LabWatcherDeps {
  azure: AzureLabPort;
  keyVault: KeyVaultPort;
  cluster: ClusterPort;
  clusterWatch: ClusterWatchPort;
  chat: ChatPort;
  store: WatchStateStore;
  threads: RotationThreads;
  metrics: Metrics;
  logger: Logger;
  settings: WatcherSettings;
  clock: Clock;
  random: () => number;
  /** One trace per rotation (trace-spans.ts); NO_TRACING when absent. */
  tracing?: Tracing;
}

const FINISHED_KEPT = 50;

function emptyState(lab: string): LabWatchState {
  return {
    schema: 1,
    lab,
    baselined: false,
    versions: {},
    traces: [],
    finished: [],
    restartBaseline: {},
    restarts: undefined,
    updatedAt: 0,
  };
}

export class LabWatcher {
  readonly #d: LabWatcherDeps;
  readonly #record: LabRecord;
  readonly #holder: string;
  readonly #onLeaseLost: () => void;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  readonly #view: LabClusterView;
  readonly #link: ClusterLink;
  readonly #alerts: TraceAlerts;
  readonly #restarts: RestartAccounting;
  readonly #poll: VaultPoll | undefined;
  #polling: Promise<void> | undefined;
  #state: LabWatchState = emptyState("");
  #saved = "";
  #queue: Promise<void> = Promise.resolve();
  #evaluateQueued = false;
  #cancelTick: Cancel | undefined;
  #diagnosis: { at: number; value: Diagnosis } | undefined;
  #diagnosing = false;

  constructor(deps: LabWatcherDeps, record: LabRecord, holder: string, onLeaseLost: () => void) {
    this.#d = deps;
    this.#record = record;
    this.#holder = holder;
    this.#onLeaseLost = onLeaseLost;
    const log = deps.logger.child({ component: "watcher", lab: record.name });
    this.#log = log;
    const names = labNamesOf(record);
    const signal = this.#stop.signal;
    this.#view = new LabClusterView({
      clock: deps.clock,
      deployment: names.deployment,
      retentionMs: deps.settings.giveUpMs,
      onChange: () => this.#requestEvaluate(),
      onSecretChange: () => this.nudge(),
    });
    this.#link = new ClusterLink(deps, names, this.#view, signal, log);
    const outbox = new AlertOutbox({ ...deps, lab: record.name, holder, log });
    const where = { lab: record.name, address: record.address, outbox, log };
    this.#alerts = new TraceAlerts({ ...deps, ...where });
    this.#restarts = new RestartAccounting({ ...deps, ...where, view: this.#view });
    const vaultUri = record.outputs.vaultUri;
    this.#poll = vaultUri
      ? new VaultPoll({ ...deps, log }, vaultUri, signal, (secrets) =>
          this.#enqueue(() => this.#applyVersions(secrets)),
        )
      : undefined;
  }

  get lab(): string {
    return this.#record.name;
  }

  get openWatches(): number {
    return this.#link.openWatches;
  }

  /** Traces under way (for tests and the bench). */
  get traces(): readonly TraceState[] {
    return this.#state.traces;
  }

  async start(): Promise<void> {
    this.#state = (await this.#d.store.load(this.lab)) ?? emptyState(this.lab);
    this.#saved = JSON.stringify(this.#state);
    this.#link.start();
    this.#polling = this.#poll?.run();
    this.#cancelTick = this.#d.clock.interval(() => this.#requestEvaluate(), this.#d.settings.tickMs);
    this.#log.info(
      { traces: this.#state.traces.length, baselined: this.#state.baselined },
      "watcher.lab_started",
    );
  }

  /** Stops watching; in-flight work (an alert being posted) finishes first. */
  async stop(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    this.#cancelTick?.();
    await this.#queue;
    await this.#polling;
    await this.#link.stop();
    this.#log.info("watcher.lab_stopped");
  }

  /** Polls the vault now (a rotate command registered a version, or the synced Secret changed). */
  nudge(): void {
    this.#poll?.nudge();
  }

  // --- the queue ---

  #enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#stop.signal.aborted) return;
      try {
        await step();
      } catch (error) {
        if (error instanceof LeaseLostError) {
          this.#log.warn("watcher.lease_lost");
          this.#onLeaseLost();
          return;
        }
        this.#log.error({ code: errorCode(error), err: error }, "watcher.step_failed");
      }
    });
    this.#queue = run;
    return run;
  }

  #requestEvaluate(): void {
    if (this.#evaluateQueued || this.#stop.signal.aborted) return;
    this.#evaluateQueued = true;
    // Coalesce a burst of watch events (a rollout is dozens) into one evaluation: a turn of the
    // event loop, not a wait, so it takes no timer.
    setImmediate(() => {
      this.#evaluateQueued = false;
      void this.#enqueue(() => this.#evaluate());
    });
  }

  async #save(): Promise<void> {
    const json = JSON.stringify({ ...this.#state, updatedAt: 0 });
    if (json === this.#saved) return;
    this.#state.updatedAt = this.#d.clock.now();
    if (!(await this.#d.store.save(this.#state, this.#holder))) throw new LeaseLostError(this.lab);
    this.#saved = json;
  }

  // --- vault side ---

  async #applyVersions(secrets: SecretVersionInfo[]): Promise<void> {
    const state = this.#state;
    const now = this.#d.clock.now();
    const fresh = newVersions(state, secrets, this.#record, now, this.#d.settings.giveUpMs);
    for (const { secret: s, previous } of fresh) {
      for (const old of state.traces.filter((t) => t.secret === s.name)) {
        await this.#supersede(old, s.version);
      }
      const registered = s.tags["labops-by"] ? await this.#alerts.findThread(s.name, s.version) : undefined;
      // Key Vault's createdOn is whole seconds: the writer's own clock, when it says, is finer.
      let setAt = s.createdOn ?? now;
      if (registered && registered.writtenAt >= setAt && registered.writtenAt < setAt + 1_000) {
        setAt = registered.writtenAt;
      }
      const trace = startTrace({
        lab: this.lab,
        secret: s.name,
        version: s.version,
        previousVersion: previous ?? s.tags["labops-previous"],
        setAt,
        changedBy: s.tags["labops-by"],
        podsBefore: this.#view.synced ? this.#view.podsAt(setAt) : [],
        replicaSetBefore: this.#view.synced ? this.#view.replicaSetAt(setAt) : undefined,
        correlationId: s.tags["labops-correlation"],
      });
      state.traces.push(trace);
      this.#log.info(
        { secretName: s.name, version: s.version.slice(0, 8), byLabops: trace.changedBy !== undefined },
        "watcher.trace_started",
      );
    }
    await this.#save();
    await this.#evaluate();
  }

  /** A newer version replaced `trace` before it completed: it is finished, with a last word. */
  async #supersede(trace: TraceState, by: string): Promise<void> {
    this.#state.traces = this.#state.traces.filter((t) => t.id !== trace.id);
    this.#state.finished = [...this.#state.finished, trace.id].slice(-FINISHED_KEPT);
    this.#d.metrics.rotationFinished("superseded");
    await this.#alerts.superseded(trace, by, this.#d.clock.now());
  }

  // --- evaluation ---

  async #evaluate(): Promise<void> {
    if (!this.#view.synced || !this.#state.baselined) return;
    const { settings, metrics, clock } = this.#d;
    const now = clock.now();
    const done: string[] = [];
    for (const [i, trace] of this.#state.traces.entries()) {
      const cluster = this.#view.observationFor(trace.secret);
      let next = trace;
      if (next.podsBefore.length === 0 && next.replicaSetBefore === undefined) {
        // Started before the watches had listed: fill in what ran when the version was written.
        next = {
          ...next,
          podsBefore: this.#view.podsAt(next.setAt),
          replicaSetBefore: this.#view.replicaSetAt(next.setAt),
        };
      }
      next = observe(next, cluster, now);
      for (const hop of HOPS) {
        const t = next.hops[hop];
        if (t !== undefined && trace.hops[hop] === undefined)
          metrics.rotationHop(hop, (t - next.setAt) / 1000);
      }
      const deadline = deadlineFor(
        next,
        this.#diagnosisBase(),
        settings.deadlines,
        clock.timeScale,
        settings.deadlineFloorMs,
      );
      if (next.completedAt === undefined && deadline !== undefined && now > deadline) {
        next = completeIfSameValue(next, cluster, now);
      }
      this.#state.traces[i] = next;

      if (next.completedAt !== undefined) {
        next.driverEvents = this.#view.driverEventsBetween(next.setAt, next.completedAt);
        if (await this.#alerts.completed(next, now)) done.push(next.id);
        continue;
      }
      const hop = pendingHop(next);
      if (hop === undefined || next.stuckAlerted === hop) {
        if (next.stuckAlerted && now - next.setAt > settings.giveUpMs) {
          await this.#alerts.givenUp(next, now);
          done.push(next.id);
        }
        continue;
      }
      let report: StuckReport | undefined = earlyStuck(next, cluster);
      if (!report && deadline !== undefined && now > deadline) {
        // Ask the cluster and Azure what they say now (once per deadline), then name the likeliest cause.
        const fresh = this.#freshDiagnosis(deadline);
        if (!fresh) continue;
        report = diagnose(next, cluster, fresh);
      }
      if (!report) continue;
      const alerted = await this.#alerts.stuck(next, report, now);
      if (alerted) this.#state.traces[i] = alerted;
    }
    if (done.length > 0) {
      this.#state.traces = this.#state.traces.filter((t) => !done.includes(t.id));
      this.#state.finished = [...this.#state.finished, ...done].slice(-FINISHED_KEPT);
    }
    await this.#restarts.account(this.#state, now);
    await this.#save();
  }

  #diagnosisBase(): Diagnosis {
    const rotation = this.#link.rotation;
    return {
      rotationEnabled: rotation.enabled,
      rotationPollIntervalMs: rotation.pollMs,
      reloaderAvailable: undefined,
      deploymentAnnotated: this.#view.reloaderConfigured,
    };
  }

  /** A diagnosis read after `since`, or undefined while one is being read (it re-evaluates when done). */
  #freshDiagnosis(since: number): Diagnosis | undefined {
    if (this.#diagnosis && this.#diagnosis.at >= since) return this.#diagnosis.value;
    if (!this.#diagnosing) {
      this.#diagnosing = true;
      void this.#readDiagnosis().finally(() => {
        this.#diagnosing = false;
        this.#requestEvaluate();
      });
    }
    return undefined;
  }

  async #readDiagnosis(): Promise<void> {
    const at = this.#d.clock.now();
    await this.#link
      .readAddon()
      .catch((error: unknown) => this.#log.warn({ code: errorCode(error) }, "watcher.addon_unreadable"));
    const reloaderAvailable = await this.#link.reloaderAvailable();
    this.#diagnosis = { at, value: { ...this.#diagnosisBase(), reloaderAvailable } };
  }
}
