import { errorCode } from "../errors.ts";
import { LAB_POD_SELECTOR, labNames, RELOADER_DEPLOYMENT, RELOADER_NAMESPACE } from "../labs/naming.ts";
import { rotationPollMs } from "../labs/timing.ts";
import type { Logger } from "../log.ts";
import type { AzureLabPort, KeyVaultPort, SecretVersionInfo } from "../ports/azure.ts";
import type { ChatPort, ThreadRef } from "../ports/chat.ts";
import type { ClusterPort, ClusterSession } from "../ports/cluster.ts";
import type { ClusterWatch, ClusterWatchPort, ClusterWatchSink, WatchKind } from "../ports/cluster-watch.ts";
import type { Metrics } from "../ports/metrics.ts";
import type { LabRecord } from "../ports/registry.ts";
import type { LabWatchState, RotationThread, RotationThreads, WatchStateStore } from "../ports/watcher.ts";
import {
  completionCard,
  completionSummary,
  finishedCommandCard,
  givenUpText,
  restartCard,
  stuckCard,
  stuckCommandCard,
  stuckText,
  supersededText,
} from "./alerts.ts";
import { LabClusterView } from "./cluster-view.ts";
import type { WatcherSettings } from "./settings.ts";
import { type Diagnosis, deadlineFor, diagnose, earlyStuck, type StuckReport } from "./stuck.ts";
import {
  completeIfSameValue,
  HOPS,
  observe,
  pendingHop,
  startTrace,
  type TraceState,
  traceId,
} from "./trace.ts";

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
 * alert (alerts are claimed in Redis before they are posted).
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
  now: () => number;
  random: () => number;
}

/** The lease went to another replica while this one was working: stop, say nothing more. */
export class LeaseLostError extends Error {
  constructor(lab: string) {
    super(`lease on ${lab} lost`);
    this.name = "LeaseLostError";
  }
}

const FINISHED_KEPT = 50;
/** Tries per alert before it is dropped (with back-off between them, minutes in all). */
const ALERT_ATTEMPTS = 8;

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
  readonly #names: ReturnType<typeof labNames>;
  readonly #view: LabClusterView;
  readonly #stop = new AbortController();
  #state: LabWatchState = emptyState("");
  #saved = "";
  #queue: Promise<void> = Promise.resolve();
  #evaluateQueued = false;
  #watch: ClusterWatch | undefined;
  /** Held while watching (as the watches hold it too): a credential, never logged or stored. */
  #kubeconfig: string | undefined;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #wakePoll: (() => void) | undefined;
  #pollAgain = false;
  #loops: Promise<void>[] = [];
  #rotation: { enabled: boolean | undefined; pollMs: number } = { enabled: undefined, pollMs: 60_000 };
  #diagnosis: { at: number; value: Diagnosis } | undefined;
  #diagnosing = false;
  /** Alert ids whose post failed, and when to try again. */
  readonly #retryAt = new Map<string, { at: number; attempts: number }>();
  #restartDirty = false;
  #authFailures = 0;

  constructor(deps: LabWatcherDeps, record: LabRecord, holder: string, onLeaseLost: () => void) {
    this.#d = deps;
    this.#record = record;
    this.#holder = holder;
    this.#onLeaseLost = onLeaseLost;
    this.#log = deps.logger.child({ component: "watcher", lab: record.name });
    this.#names = labNames(record.name);
    this.#view = new LabClusterView({
      now: deps.now,
      deployment: this.#names.deployment,
      retentionMs: deps.settings.giveUpMs,
      onChange: () => this.#requestEvaluate(),
      onSecretChange: () => this.nudge(),
    });
  }

  get lab(): string {
    return this.#record.name;
  }

  get openWatches(): number {
    return this.#watch?.openWatches ?? 0;
  }

  /** Traces under way (for tests and the bench). */
  get traces(): readonly TraceState[] {
    return this.#state.traces;
  }

  async start(): Promise<void> {
    this.#state = (await this.#d.store.load(this.lab)) ?? emptyState(this.lab);
    this.#saved = JSON.stringify(this.#state);
    this.#loops.push(this.#connect(), this.#pollLoop());
    this.#ticker = setInterval(() => this.#requestEvaluate(), this.#d.settings.tickMs);
    this.#ticker.unref?.();
    this.#log.info(
      { traces: this.#state.traces.length, baselined: this.#state.baselined },
      "watcher.lab_started",
    );
  }

  /** Stops watching; in-flight work (an alert being posted) finishes first. */
  async stop(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    if (this.#ticker) clearInterval(this.#ticker);
    this.#wakePoll?.();
    await this.#queue;
    await Promise.all(this.#loops);
    await this.#watch?.stop();
    this.#kubeconfig = undefined;
    this.#log.info("watcher.lab_stopped");
  }

  /** Polls the vault now (a rotate command registered a version, or the synced Secret changed). */
  nudge(): void {
    this.#pollAgain = true;
    this.#wakePoll?.();
  }

  // --- loops ---

  #backoff(failures: number): number {
    const { retryInitialMs, retryMaxMs } = this.#d.settings;
    const cap = Math.min(retryMaxMs, retryInitialMs * 2 ** Math.max(0, failures - 1));
    return Math.round(cap / 2 + (this.#d.random() * cap) / 2);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#stop.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#stop.signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Cluster credentials and the watches, retried until they work or the watcher stops. */
  async #connect(): Promise<void> {
    const { azure, clusterWatch } = this.#d;
    const signal = this.#stop.signal;
    for (let failures = 0; !signal.aborted; ) {
      try {
        await this.#readAddon();
        const kubeconfig = await azure.clusterUserKubeconfig(
          this.#names.resourceGroup,
          this.#names.cluster,
          signal,
        );
        if (signal.aborted) return;
        this.#kubeconfig = kubeconfig;
        this.#watch = clusterWatch.watch(
          kubeconfig,
          {
            namespace: this.#names.namespace,
            deployment: this.#names.deployment,
            podSelector: LAB_POD_SELECTOR,
            syncedSecret: this.#names.syncedSecret,
          },
          this.#sink(),
        );
        return;
      } catch (error) {
        if (signal.aborted) return;
        failures += 1;
        const wait = this.#backoff(failures);
        this.#log.warn({ code: errorCode(error), retryInMs: wait }, "watcher.cluster_unreachable");
        await this.#sleep(wait);
      }
    }
  }

  /** The view, plus what a failing watch means: a credential that expired is fetched again. */
  #sink(): ClusterWatchSink {
    const view = this.#view;
    return {
      replace: (kind, objects) => {
        this.#authFailures = 0;
        view.replace(kind, objects);
      },
      upsert: (kind, object) => view.upsert(kind, object),
      remove: (kind, object) => view.remove(kind, object),
      failed: (kind: WatchKind, error: Error, retryInMs: number) => {
        const status = (error as { statusCode?: number }).statusCode;
        this.#log.warn({ kind, status, code: errorCode(error), retryInMs }, "watcher.watch_failed");
        if (status === 401 || status === 403) {
          this.#authFailures += 1;
          if (this.#authFailures === 3) void this.#reconnect();
        }
      },
    };
  }

  async #reconnect(): Promise<void> {
    const watch = this.#watch;
    this.#watch = undefined;
    await watch?.stop();
    this.#kubeconfig = undefined;
    this.#authFailures = 0;
    if (!this.#stop.signal.aborted) this.#loops.push(this.#connect());
  }

  async #readAddon(): Promise<void> {
    const info = await this.#d.azure.getCluster(
      this.#names.resourceGroup,
      this.#names.cluster,
      this.#stop.signal,
    );
    const addon = info?.keyVaultAddon;
    this.#rotation = {
      enabled: addon ? addon.enabled && addon.rotation : undefined,
      pollMs: addon ? rotationPollMs(addon.rotationPollInterval) : this.#rotation.pollMs,
    };
  }

  async #pollLoop(): Promise<void> {
    const vaultUri = this.#record.outputs.vaultUri;
    if (!vaultUri) return;
    const signal = this.#stop.signal;
    for (let failures = 0; !signal.aborted; ) {
      this.#pollAgain = false;
      try {
        const secrets = await this.#d.keyVault.listSecrets(vaultUri, signal);
        await this.#enqueue(() => this.#applyVersions(secrets));
        failures = 0;
      } catch (error) {
        if (signal.aborted) return;
        failures += 1;
        this.#log.warn({ code: errorCode(error) }, "watcher.vault_poll_failed");
      }
      if (this.#pollAgain) continue;
      const { vaultPollMs } = this.#d.settings;
      const wait = failures > 0 ? this.#backoff(failures) : vaultPollMs * (0.9 + 0.2 * this.#d.random());
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, wait);
        function wake() {
          clearTimeout(timer);
          resolve();
        }
        this.#wakePoll = wake;
      });
      this.#wakePoll = undefined;
    }
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
    // Coalesce a burst of watch events (a rollout is dozens) into one evaluation.
    setImmediate(() => {
      this.#evaluateQueued = false;
      void this.#enqueue(() => this.#evaluate());
    });
  }

  async #save(): Promise<void> {
    const json = JSON.stringify({ ...this.#state, updatedAt: 0 });
    if (json === this.#saved) return;
    this.#state.updatedAt = this.#d.now();
    if (!(await this.#d.store.save(this.#state, this.#holder))) throw new LeaseLostError(this.lab);
    this.#saved = json;
  }

  // --- vault side ---

  /**
   * At the first poll of a lab, which versions are rotations to follow rather
   * than where the lab stands: those written since the lab became ready (a
   * rotate command can come before the watcher's first poll), except the
   * seeds the create job wrote, and nothing older than the give-up window.
   */
  #changedSinceReady(s: SecretVersionInfo, now: number): boolean {
    if (s.tags["labops-reason"] === "seed" || s.createdOn === undefined) return false;
    const readyAt = this.#record.steps?.verify?.finishedAt ?? this.#record.updatedAt;
    // createdOn is whole seconds: a version from the second the lab became ready counts.
    return s.createdOn >= readyAt - 1_000 && now - s.createdOn < this.#d.settings.giveUpMs;
  }

  async #applyVersions(secrets: SecretVersionInfo[]): Promise<void> {
    const state = this.#state;
    const first = !state.baselined;
    const now = this.#d.now();
    for (const s of secrets) {
      const previous = state.versions[s.name];
      if (previous === s.version) continue;
      state.versions[s.name] = s.version;
      if (first && !this.#changedSinceReady(s, now)) continue;
      const id = traceId(this.lab, s.name, s.version);
      if (state.finished.includes(id) || state.traces.some((t) => t.id === id)) continue;
      for (const old of state.traces.filter((t) => t.secret === s.name)) {
        await this.#supersede(old, s.version);
      }
      const registered = s.tags["labops-by"] ? await this.#findThread(s.name, s.version) : undefined;
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
    const present = new Set(secrets.map((s) => s.name));
    for (const name of Object.keys(state.versions)) if (!present.has(name)) delete state.versions[name];
    state.baselined = true;
    await this.#save();
    await this.#evaluate();
  }

  async #findThread(secret: string, version: string): Promise<RotationThread | undefined> {
    try {
      return await this.#d.threads.find(this.lab, secret, version);
    } catch (error) {
      this.#log.warn({ code: errorCode(error) }, "watcher.thread_lookup_failed");
      return undefined;
    }
  }

  // --- evaluation ---

  async #evaluate(): Promise<void> {
    if (!this.#view.synced || !this.#state.baselined) return;
    const now = this.#d.now();
    const { settings, metrics } = this.#d;
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
      const diagnosisBase = this.#diagnosisBase();
      const deadline = deadlineFor(
        next,
        diagnosisBase,
        settings.deadlines,
        settings.timeScale,
        settings.deadlineFloorMs,
      );
      if (next.completedAt === undefined && deadline !== undefined && now > deadline) {
        next = completeIfSameValue(next, cluster, now);
      }
      this.#state.traces[i] = next;

      if (next.completedAt !== undefined) {
        next.driverEvents = this.#view.driverEventsBetween(next.setAt, next.completedAt);
        if (await this.#alertCompleted(next, now)) done.push(next.id);
        continue;
      }
      const hop = pendingHop(next);
      if (hop === undefined || next.stuckAlerted === hop) {
        if (next.stuckAlerted && now - next.setAt > settings.giveUpMs) {
          await this.#giveUp(next, now);
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
      if (report) await this.#alertStuck(i, report, now);
    }
    if (done.length > 0) {
      this.#state.traces = this.#state.traces.filter((t) => !done.includes(t.id));
      this.#state.finished = [...this.#state.finished, ...done].slice(-FINISHED_KEPT);
    }
    await this.#accountRestarts(now);
    await this.#save();
  }

  #diagnosisBase(): Diagnosis {
    return {
      rotationEnabled: this.#rotation.enabled,
      rotationPollIntervalMs: this.#rotation.pollMs,
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
    const at = this.#d.now();
    const signal = this.#stop.signal;
    await this.#readAddon().catch((error: unknown) =>
      this.#log.warn({ code: errorCode(error) }, "watcher.addon_unreadable"),
    );
    let reloaderAvailable: boolean | undefined;
    // A session only for the diagnosis (rare): fifty idle sessions would cost more than the watches.
    const session: ClusterSession | undefined = this.#kubeconfig
      ? this.#d.cluster.connect(this.#kubeconfig)
      : undefined;
    try {
      const reloader = await session?.getDeployment(RELOADER_NAMESPACE, RELOADER_DEPLOYMENT, signal);
      if (session) reloaderAvailable = reloader !== undefined && reloader.availableReplicas > 0;
    } catch (error) {
      this.#log.warn({ code: errorCode(error) }, "watcher.reloader_unreadable");
    } finally {
      session?.close();
    }
    this.#diagnosis = { at, value: { ...this.#diagnosisBase(), reloaderAvailable } };
  }

  // --- alerts ---

  /**
   * The rotate command's thread for a version labops wrote; "wait" while it
   * may still be on its way (the command opens it after writing), undefined
   * when there is none to wait for.
   */
  async #commandThread(trace: TraceState, now: number): Promise<RotationThread | "wait" | undefined> {
    if (!trace.changedBy) return undefined;
    const found = await this.#findThread(trace.secret, trace.version);
    if (found) return found;
    return trace.correlationId && now - trace.setAt < this.#d.settings.threadGraceMs ? "wait" : undefined;
  }

  /** Claims an alert; undefined when it must not be posted (posted already, or retry not due). */
  async #claim(id: string, now: number): Promise<{ posted: ThreadRef | undefined } | "go" | undefined> {
    const retry = this.#retryAt.get(id);
    if (retry !== undefined && now < retry.at) return undefined;
    const claim = await this.#d.store.claimAlert(this.lab, id, this.#holder);
    if (claim.outcome === "lease_lost") throw new LeaseLostError(this.lab);
    if (claim.outcome === "posted") return { posted: claim.thread };
    if (retry !== undefined && retry.attempts >= ALERT_ATTEMPTS) {
      // The chat keeps refusing (channel archived, bot removed): stop trying, and say so in the logs.
      this.#log.error({ alert: id, attempts: retry.attempts }, "watcher.alert_dropped");
      await this.#d.store.markPosted(this.lab, id, undefined);
      this.#retryAt.delete(id);
      return { posted: undefined };
    }
    return "go";
  }

  #postFailed(id: string, error: unknown, now: number): void {
    const attempts = (this.#retryAt.get(id)?.attempts ?? 0) + 1;
    const wait = this.#backoff(attempts);
    this.#retryAt.set(id, { at: now + wait, attempts });
    this.#log.warn({ alert: id, code: errorCode(error), attempts, retryInMs: wait }, "watcher.alert_failed");
  }

  /** True once the completion is said (now or by an earlier owner). */
  async #alertCompleted(trace: TraceState, now: number): Promise<boolean> {
    const id = `${trace.id}:done`;
    const claim = await this.#claim(id, now);
    if (claim === undefined) return false;
    if (claim !== "go") return true;
    const { chat, metrics } = this.#d;
    const registered = await this.#commandThread(trace, now);
    if (registered === "wait") return false;
    try {
      const ctx = { lab: this.lab, ...(registered ? { byName: registered.by } : {}) };
      let thread: ThreadRef;
      if (registered) {
        thread = registered.thread;
        await chat.reply(thread, `${completionSummary(trace)}.`);
        await chat.updateCard(thread, finishedCommandCard(registered.card, trace, ctx));
      } else if (trace.thread) {
        thread = trace.thread;
        await chat.reply(thread, `Recovered: ${completionSummary(trace)}.`);
        await chat.updateCard(thread, completionCard(trace, ctx));
      } else {
        thread = await chat.postAlert(this.#record.address, completionCard(trace, ctx));
      }
      await this.#d.store.markPosted(this.lab, id, thread);
      metrics.alertPosted("rotation");
      metrics.rotationFinished("completed");
      this.#retryAt.delete(id);
      this.#log.info(
        {
          secretName: trace.secret,
          version: trace.version.slice(0, 8),
          tookMs: (trace.completedAt ?? now) - trace.setAt,
        },
        "watcher.rotation_completed",
      );
      return true;
    } catch (error) {
      this.#postFailed(id, error, now);
      return false;
    }
  }

  async #alertStuck(index: number, report: StuckReport, now: number): Promise<void> {
    const trace = this.#state.traces[index];
    if (!trace) return;
    const id = `${trace.id}:stuck:${report.hop}`;
    const claim = await this.#claim(id, now);
    if (claim === undefined) return;
    const mark = (thread: ThreadRef | undefined) => {
      this.#state.traces[index] = {
        ...trace,
        stuckAlerted: report.hop,
        ...(thread ? { thread } : trace.thread ? { thread: trace.thread } : {}),
      };
    };
    if (claim !== "go") {
      mark(claim.posted);
      return;
    }
    const { chat, metrics } = this.#d;
    const registered = await this.#commandThread(trace, now);
    if (registered === "wait") return;
    try {
      const ctx = { lab: this.lab, ...(registered ? { byName: registered.by } : {}) };
      let thread: ThreadRef;
      if (registered) {
        thread = registered.thread;
        await chat.reply(thread, `Stuck: ${stuckText(trace, report, now)}`);
        await chat.updateCard(thread, stuckCommandCard(registered.card, trace, report, now));
      } else if (trace.thread) {
        thread = trace.thread;
        await chat.reply(thread, `Stuck again: ${stuckText(trace, report, now)}`);
        await chat.updateCard(thread, stuckCard(trace, report, ctx, now));
      } else {
        thread = await chat.postAlert(this.#record.address, stuckCard(trace, report, ctx, now));
      }
      await this.#d.store.markPosted(this.lab, id, thread);
      mark(thread);
      metrics.alertPosted("stuck");
      if (trace.stuckAlerted === undefined) metrics.rotationFinished("stuck");
      this.#retryAt.delete(id);
      this.#log.warn(
        { secretName: trace.secret, hop: report.hop, cause: report.cause },
        "watcher.rotation_stuck",
      );
    } catch (error) {
      this.#postFailed(id, error, now);
    }
  }

  async #supersede(trace: TraceState, by: string): Promise<void> {
    this.#state.traces = this.#state.traces.filter((t) => t.id !== trace.id);
    this.#state.finished = [...this.#state.finished, trace.id].slice(-FINISHED_KEPT);
    this.#d.metrics.rotationFinished("superseded");
    const registered = trace.changedBy ? await this.#findThread(trace.secret, trace.version) : undefined;
    const thread = registered?.thread ?? trace.thread;
    if (!thread) return;
    const id = `${trace.id}:superseded`;
    const claim = await this.#claim(id, this.#d.now());
    if (claim !== "go") return;
    try {
      const text = supersededText(trace, by);
      await this.#d.chat.reply(thread, text);
      if (registered) await this.#d.chat.updateCard(thread, { ...registered.card, status: "info", text });
      await this.#d.store.markPosted(this.lab, id, thread);
    } catch (error) {
      this.#log.warn({ code: errorCode(error) }, "watcher.alert_failed");
    }
  }

  async #giveUp(trace: TraceState, now: number): Promise<void> {
    const thread = trace.thread;
    if (!thread) return;
    const id = `${trace.id}:given_up`;
    const claim = await this.#claim(id, now);
    if (claim !== "go") return;
    try {
      await this.#d.chat.reply(thread, givenUpText(trace, now));
      await this.#d.store.markPosted(this.lab, id, thread);
    } catch (error) {
      this.#log.warn({ code: errorCode(error) }, "watcher.alert_failed");
    }
  }

  // --- restarts with no vault change behind them ---

  async #accountRestarts(now: number): Promise<void> {
    const state = this.#state;
    const { settings } = this.#d;
    // A new pod of a rotation under way that restarts is that rotation's story (its stuck alert), not this one's.
    const ofTraces = new Set(state.traces.flatMap((t) => Object.keys(t.newPods)));
    const found: Array<{ pod: string; restarts: number; reason?: string; replaced?: boolean }> = [];
    for (const p of this.#view.podRestarts()) {
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
    const known = this.#view.podNames();
    for (const name of Object.keys(state.restartBaseline)) {
      if (!known.has(name)) delete state.restartBaseline[name];
    }
    for (const s of this.#view.takeSignals()) {
      if (!ofTraces.has(s.pod)) found.push({ pod: s.pod, restarts: 0, replaced: true, reason: s.kind });
    }
    if (found.length > 0) {
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
      this.#restartDirty = true;
    }
    const report = state.restarts;
    if (!report || !this.#restartDirty) return;
    const card = restartCard(report, { lab: this.lab, windowMs: settings.restartWindowMs });
    if (report.thread) {
      this.#restartDirty = false;
      await this.#d.chat.updateCard(report.thread, card).catch((error: unknown) => {
        this.#log.warn({ code: errorCode(error) }, "watcher.alert_failed");
      });
      return;
    }
    // Wait a little so that restarts arriving together make one report.
    if (now - report.openedAt < settings.restartGatherMs) return;
    const id = `restarts:${report.openedAt}`;
    const claim = await this.#claim(id, now);
    if (claim === undefined) return;
    if (claim !== "go") {
      report.thread = claim.posted;
      return;
    }
    try {
      report.thread = await this.#d.chat.postAlert(this.#record.address, card);
      await this.#d.store.markPosted(this.lab, id, report.thread);
      this.#d.metrics.alertPosted("restart");
      this.#restartDirty = false;
      this.#log.warn({ pods: Object.keys(report.pods).length }, "watcher.restarts_reported");
    } catch (error) {
      this.#postFailed(id, error, now);
    }
  }
}
