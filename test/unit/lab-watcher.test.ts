import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.ts";
import type { AzureLabPort, KeyVaultPort, SecretVersionInfo } from "../../src/ports/azure.ts";
import type { Card, ChatAddress, ThreadRef } from "../../src/ports/chat.ts";
import type { ClusterPort, PodState } from "../../src/ports/cluster.ts";
import type { ClusterWatchPort, ClusterWatchSink } from "../../src/ports/cluster-watch.ts";
import { NO_METRICS } from "../../src/ports/metrics.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import { LabWatcher } from "../../src/watcher/lab-watcher.ts";
import { watcherSettings } from "../../src/watcher/settings.ts";
import { RecordingChat } from "../fakes/chat.ts";
import { ManualClock } from "../fakes/clock.ts";
import { MemoryLeases } from "../fakes/leases.ts";
import { MemoryRotationThreads, MemoryWatchStateStore } from "../fakes/watcher.ts";

/**
 * The per-lab watcher with every port in memory: the vault's versions and
 * the cluster's watch events are driven by the test, so the paths that are
 * hard to force against the emulators (a chat that fails, a lease lost
 * mid-work) are exercised exactly. Time is a ManualClock: the test moves it
 * tick by tick until what it waits for has happened, and never waits on the
 * wall clock.
 */

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);
/** How far the watcher's time may move before a wait counts as failed (its waits are tens of ms). */
const PATIENCE_MS = 30_000;

const ADDRESS: ChatAddress = { platform: "slack", tenant: "T1", channel: "C1" };

/** A RecordingChat whose postAlert fails a given number of times first. */
class FlakyChat extends RecordingChat {
  failures = 0;
  attempts = 0;
  override async postAlert(address: ChatAddress, card: Card): Promise<ThreadRef> {
    this.attempts += 1;
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error("slack is down");
    }
    return super.postAlert(address, card);
  }
}

const pod = (name: string, rs: string, extra: Partial<PodState> = {}): PodState => ({
  name,
  namespace: "secret-lab",
  phase: "Running",
  ready: true,
  reason: undefined,
  restartCount: 0,
  createdAt: T0 - 60_000,
  readyAt: T0 - 59_000,
  deletionTimestamp: undefined,
  labels: { app: "podinfo" },
  ownerReplicaSet: rs,
  ...extra,
});
const mount = (podName: string, color: string) => ({
  podName,
  namespace: "secret-lab",
  secretProviderClass: "azure-keyvault-secrets",
  mounted: true,
  versions: { color },
});
const deployment = (marker?: string) => ({
  name: "podinfo-csi",
  generation: 1,
  replicas: 2,
  readyReplicas: 2,
  availableReplicas: 2,
  reloaderAnnotations: { "reloader.stakater.com/auto": "true" },
  reloadMarker: marker,
  reloadedAt: undefined,
});
const rs = (name: string, revision: number, marker?: string) => ({
  name,
  deployment: "podinfo-csi",
  revision,
  reloadMarker: marker,
  replicas: 2,
  readyReplicas: 2,
  createdAt: T0 - 60_000,
});

function world(options: { chat?: RecordingChat } = {}) {
  const clock = new ManualClock({ now: T0 });
  const leases = new MemoryLeases(clock);
  leases.hand("team-u", "me", 24 * 3_600_000);
  const store = new MemoryWatchStateStore(leases);
  const threads = new MemoryRotationThreads();
  const chat = options.chat ?? new RecordingChat();
  let versions: SecretVersionInfo[] = [
    {
      name: "color",
      version: "v1",
      enabled: true,
      createdOn: T0 - 3_600_000,
      updatedOn: undefined,
      tags: {},
    },
  ];
  let sink: ClusterWatchSink | undefined;
  const keyVault = { listSecrets: async () => versions } as unknown as KeyVaultPort;
  const azure = {
    getCluster: async () => ({
      keyVaultAddon: { enabled: true, rotation: true, rotationPollInterval: "1m" },
    }),
    clusterUserKubeconfig: async () => "kubeconfig",
  } as unknown as AzureLabPort;
  const cluster = {
    connect: () => ({ getDeployment: async () => ({ availableReplicas: 1 }), close: () => undefined }),
  } as unknown as ClusterPort;
  const clusterWatch: ClusterWatchPort = {
    watch(_kc, _scope, s) {
      sink = s;
      return { openWatches: 6, stop: async () => undefined };
    },
  };
  const record: LabRecord = {
    name: "team-u",
    state: "ready",
    owner: { platform: "slack", id: "U1" },
    address: ADDRESS,
    location: "centralus",
    createdAt: T0 - 7_200_000,
    updatedAt: T0 - 7_200_000,
    expiresAt: T0 + 3_600_000,
    outputs: { vaultUri: "https://kv.example/", vaultName: "kv" },
  };
  let leaseLost = 0;
  const watcher = new LabWatcher(
    {
      azure,
      keyVault,
      cluster,
      clusterWatch,
      chat,
      store,
      threads,
      metrics: NO_METRICS,
      logger: createLogger({ level: "silent" }),
      settings: watcherSettings(clock, {
        vaultPollMs: 20,
        tickMs: 10,
        retryInitialMs: 5,
        retryMaxMs: 20,
        threadGraceMs: 5_000,
      }),
      clock,
      random: () => 0.5,
    },
    record,
    "me",
    () => {
      leaseLost += 1;
    },
  );
  const s = () => {
    if (!sink) throw new Error("not watching yet");
    return sink;
  };
  /** Moves the clock on, a tick at a time, until `probe` gives a value; fails after PATIENCE_MS of it. */
  async function until<T>(probe: () => T | undefined | false, what: string): Promise<T> {
    for (let waited = 0; ; waited += 10) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      if (waited >= PATIENCE_MS) throw new Error(`no ${what} within ${PATIENCE_MS} ms of the watcher's time`);
      await clock.advance(10);
    }
  }
  return {
    watcher,
    clock,
    until,
    leases,
    store,
    threads,
    chat,
    leaseLost: () => leaseLost,
    setVersions(v: SecretVersionInfo[]) {
      versions = v;
    },
    /** The version v2 of color, written now. */
    v2(tags: Record<string, string> = {}): SecretVersionInfo[] {
      return [
        { name: "color", version: "v2", enabled: true, createdOn: clock.now(), updatedOn: undefined, tags },
      ];
    },
    async listed() {
      await until(() => sink, "the watches");
      s().replace("secret", [{ name: "keyvault-secrets", resourceVersion: "1", keys: { color: "d1" } }]);
      s().replace("deployment", [deployment()]);
      s().replace("replicaset", [rs("rs-old", 1)]);
      s().replace("pod", [pod("old-1", "rs-old"), pod("old-2", "rs-old")]);
      s().replace("mount", [mount("old-1", "v1"), mount("old-2", "v1")]);
      s().replace("event", []);
    },
    /** The whole rollout of v2, as the watches would deliver it. */
    rollOut() {
      s().upsert("secret", { name: "keyvault-secrets", resourceVersion: "2", keys: { color: "d2" } });
      s().upsert("deployment", deployment("m1"));
      s().upsert("replicaset", rs("rs-new", 2, "m1"));
      for (const name of ["new-1", "new-2"]) {
        s().upsert("pod", pod(name, "rs-new", { ready: false }));
        s().upsert("mount", mount(name, "v2"));
        s().upsert("pod", pod(name, "rs-new"));
      }
      for (const name of ["old-1", "old-2"]) s().remove("pod", pod(name, "rs-old"));
    },
  };
}

describe("the watcher of one lab", () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  it("takes the first poll as the baseline, then traces a new version to one alert", async () => {
    const w = world();
    stop = () => w.watcher.stop();
    await w.watcher.start();
    await w.listed();
    await w.until(() => w.store.peek("team-u")?.baselined, "the baseline");
    expect(w.chat.threads.size).toBe(0);
    w.setVersions(w.v2());
    w.watcher.nudge();
    await w.until(() => w.store.peek("team-u")?.traces.length === 1 || undefined, "the trace");
    w.rollOut();
    const alert = await w.until(() => [...w.chat.threads.values()][0], "the alert");
    expect(alert.alert).toBe(true);
    expect(alert.card.text).toMatch(/^color: v2 reached 2\/2 pods in/);
    await w.until(
      () => w.store.peek("team-u")?.finished.includes("team-u/color/v2") || undefined,
      "the trace to finish",
    );
    expect(w.store.peek("team-u")?.traces).toEqual([]);
  });

  it("tries a failed post again, and posts it once", async () => {
    const chat = new FlakyChat();
    chat.failures = 2;
    const w = world({ chat });
    stop = () => w.watcher.stop();
    await w.watcher.start();
    await w.listed();
    await w.until(() => w.store.peek("team-u")?.baselined, "the baseline");
    w.setVersions(w.v2());
    w.watcher.nudge();
    await w.until(() => w.store.peek("team-u")?.traces.length === 1 || undefined, "the trace");
    w.rollOut();
    await w.until(() => (chat.threads.size === 1 ? true : undefined), "the alert after retries");
    expect(chat.attempts).toBe(3);
    await w.until(() => w.store.peek("team-u")?.traces.length === 0 || undefined, "the trace to finish");
    expect(chat.threads.size).toBe(1);
  });

  it("finishes the rotate command's thread instead of opening one, waiting for it if need be", async () => {
    const w = world();
    stop = () => w.watcher.stop();
    await w.watcher.start();
    await w.listed();
    await w.until(() => w.store.peek("team-u")?.baselined, "the baseline");
    w.setVersions(w.v2({ "labops-by": "slack:U1", "labops-correlation": "c-1" }));
    w.watcher.nudge();
    await w.until(() => w.store.peek("team-u")?.traces.length === 1 || undefined, "the trace");
    w.rollOut();
    // The command's thread shows up only now (it writes first, then opens its thread).
    const thread = await w.chat.openThread(ADDRESS, {
      title: "Rotation: color in team-u",
      status: "running",
    });
    await w.threads.register({
      lab: "team-u",
      secret: "color",
      version: "v2",
      thread,
      card: {
        title: "Rotation: color in team-u",
        status: "running",
        fields: [{ label: "New version", value: "v2" }],
      },
      by: "ada",
      correlationId: "c-1",
      writtenAt: w.clock.now(),
    });
    const recorded = await w.until(() => {
      const t = w.chat.threads.get(thread.threadId);
      return t && t.replies.length > 0 ? t : undefined;
    }, "the reply in the command's thread");
    expect(recorded.replies[0]).toMatch(/^color: v2 reached 2\/2 pods in/);
    await w.until(() => (recorded.card.status === "succeeded" ? true : undefined), "the card to finish");
    expect(recorded.card.text).toMatch(/Changed by ada through labops/);
    expect([...w.chat.threads.values()].filter((t) => t.alert)).toEqual([]);
  });

  it("says nothing once its lease is gone, and tells its owner", async () => {
    const w = world();
    stop = () => w.watcher.stop();
    await w.watcher.start();
    await w.listed();
    await w.until(() => w.store.peek("team-u")?.baselined, "the baseline");
    w.leases.hand("team-u", "someone-else", 24 * 3_600_000);
    w.setVersions(w.v2());
    w.watcher.nudge();
    await w.until(() => (w.leaseLost() > 0 ? true : undefined), "the lease loss to be noticed");
    w.rollOut();
    expect(w.chat.calls).toEqual([]);
  });
});
