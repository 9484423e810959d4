import { describe, expect, it } from "vitest";
import {
  completionCard,
  completionSummary,
  formatHopTime,
  hopLine,
  stuckCard,
} from "../../src/watcher/alerts.ts";
import { type Diagnosis, deadlineFor, diagnose, earlyStuck } from "../../src/watcher/stuck.ts";
import {
  type ClusterObservation,
  completeIfSameValue,
  observe,
  type PodObservation,
  pendingHop,
  startTrace,
} from "../../src/watcher/trace.ts";

const T0 = 1_000_000;
const s = (sec: number) => T0 + sec * 1000;

function pod(name: string, rs: string, extra: Partial<PodObservation> = {}): PodObservation {
  return {
    name,
    replicaSet: rs,
    createdAt: T0,
    ready: false,
    readyAt: undefined,
    reason: undefined,
    restartCount: 0,
    deleting: false,
    mountedVersion: undefined,
    ...extra,
  };
}

const OLD_RS = { name: "podinfo-old", revision: 1, createdAt: s(-100) };
const NEW_RS = { name: "podinfo-new", revision: 2, createdAt: s(42), reloadMarker: "m2" };
const reloadAt = (sec: number, marker = "m2") => ({ at: s(sec), marker });

function cluster(extra: Partial<ClusterObservation>): ClusterObservation {
  return {
    syncedChanges: [s(-100)],
    reloads: [],
    replicaSets: [OLD_RS],
    mountedByAny: true,
    desiredReplicas: 2,
    pods: [pod("old-1", "podinfo-old", { ready: true }), pod("old-2", "podinfo-old", { ready: true })],
    mountFailures: [],
    ...extra,
  };
}

const healthy: Diagnosis = {
  rotationEnabled: true,
  rotationPollIntervalMs: 60_000,
  reloaderAvailable: true,
  deploymentAnnotated: true,
};

function trace() {
  return startTrace({
    lab: "team-a",
    secret: "color",
    version: "v4abcdef0123",
    previousVersion: "v3",
    setAt: T0,
    changedBy: "labops:slack:U1",
    podsBefore: ["old-1", "old-2"],
    replicaSetBefore: "podinfo-old",
    correlationId: "c-1",
  });
}

describe("rotation trace", () => {
  it("records every hop and completes when all new pods are ready on the version", () => {
    let t = trace();
    t = observe(t, cluster({}), s(10));
    expect(pendingHop(t)).toBe("synced");
    t = observe(t, cluster({ syncedChanges: [s(-100), s(41)] }), s(41));
    expect(t.hops.synced).toBe(s(41));
    t = observe(
      t,
      cluster({
        syncedChanges: [s(41)],
        reloads: [reloadAt(42)],
        replicaSets: [OLD_RS, NEW_RS],
        pods: [
          pod("old-1", "podinfo-old", { ready: true }),
          pod("old-2", "podinfo-old", { ready: true, deleting: true }),
          pod("new-1", "podinfo-new", { ready: true, readyAt: s(60), mountedVersion: "v4abcdef0123" }),
        ],
      }),
      s(60),
    );
    expect(t.hops.rollout).toBe(s(42));
    expect(t.completedAt).toBeUndefined();
    t = observe(
      t,
      cluster({
        syncedChanges: [s(41)],
        reloads: [reloadAt(42)],
        replicaSets: [OLD_RS, NEW_RS],
        pods: [
          pod("new-1", "podinfo-new", { ready: true, readyAt: s(60), mountedVersion: "v4abcdef0123" }),
          pod("new-2", "podinfo-new", { ready: true, readyAt: s(70), mountedVersion: "v4abcdef0123" }),
        ],
      }),
      s(72),
    );
    expect(t.hops.ready).toBe(s(70));
    expect(t.completedAt).toBe(s(72));
    expect(pendingHop(t)).toBeUndefined();
    expect(completionSummary(t)).toBe(
      "color: v4abcdef reached 2/2 pods in 1m12s (synced +41s, rollout +42s, ready +1m10s)",
    );
  });

  it("ignores a synced-Secret change from before the version existed", () => {
    const t = observe(trace(), cluster({ syncedChanges: [s(-5)] }), s(5));
    expect(t.hops.synced).toBeUndefined();
  });

  it("puts the sync deadline two poll intervals and some slack after the write, scaled", () => {
    expect(deadlineFor(trace(), healthy)).toBe(s(120 + 45));
    expect(deadlineFor(trace(), healthy, undefined, 10)).toBe(T0 + 16_500);
  });

  it("names Reloader when the synced Secret changed but nothing rolled", () => {
    const t = observe(trace(), cluster({ syncedChanges: [s(41)] }), s(200));
    expect(pendingHop(t)).toBe("reloaded");
    expect(diagnose(t, cluster({}), { ...healthy, reloaderAvailable: false })?.cause).toMatch(
      /Reloader is not running/,
    );
    expect(diagnose(t, cluster({}), { ...healthy, deploymentAnnotated: false })?.cause).toMatch(
      /reloader.stakater.com\/auto/,
    );
  });

  it("names rotation disabled, and mount failures, when nothing synced", () => {
    const t = trace();
    expect(diagnose(t, cluster({}), { ...healthy, rotationEnabled: false })?.cause).toMatch(
      /enableSecretRotation=false/,
    );
    const failing = cluster({
      mountFailures: [
        { pod: "old-1", message: "AADSTS70021: No matching federated identity record", at: s(30), count: 1 },
      ],
    });
    expect(diagnose(t, failing, healthy)?.cause).toMatch(/cannot read the vault for old-1: AADSTS70021/);
  });

  it("names new pods crash-looping on the new value", () => {
    const rolled = cluster({
      syncedChanges: [s(41)],
      reloads: [reloadAt(42)],
      replicaSets: [OLD_RS, NEW_RS],
      pods: [
        pod("old-1", "podinfo-old", { ready: true }),
        pod("old-2", "podinfo-old", { ready: true }),
        pod("new-1", "podinfo-new", { reason: "CrashLoopBackOff", restartCount: 3 }),
      ],
    });
    const t = observe(trace(), rolled, s(300));
    expect(pendingHop(t)).toBe("ready");
    expect(diagnose(t, rolled, healthy)?.cause).toBe("new pods are crash-looping on the new value: new-1");
  });

  const rolledOut = (extra: Partial<ClusterObservation> = {}) =>
    cluster({
      syncedChanges: [s(41)],
      reloads: [reloadAt(42)],
      replicaSets: [OLD_RS, NEW_RS],
      pods: [
        pod("new-1", "podinfo-new", { ready: true, readyAt: s(60), mountedVersion: "v4abcdef0123" }),
        pod("new-2", "podinfo-new", { ready: true, readyAt: s(70), mountedVersion: "v4abcdef0123" }),
      ],
      ...extra,
    });

  it("completes from history when the vault poll notices the version after the rollout finished", () => {
    const t = observe(trace(), rolledOut(), s(90));
    expect(t.hops).toMatchObject({ synced: s(41), reloaded: s(42), rollout: s(42), ready: s(70) });
    expect(t.completedAt).toBe(s(90));
    expect(t.reached).toEqual({ pods: ["new-1", "new-2"], desired: 2 });
    expect(hopLine(t)).toBe("synced +41s · reloaded +42s · rollout +42s · ready +1m10s · mounted +1m30s");
  });

  it("keeps hops in chain order when the watch streams deliver them out of order", () => {
    // Reloader's patch reached the deployment watch before the Secret's change reached its own.
    const t = observe(trace(), rolledOut({ syncedChanges: [s(41.5)], reloads: [reloadAt(41.2)] }), s(90));
    expect(t.hops.synced).toBe(s(41.5));
    expect(t.hops.reloaded).toBe(s(41.5));
    // And a reload with no Secret change seen still proves the sync happened.
    const u = observe(trace(), cluster({ syncedChanges: [], reloads: [reloadAt(42)] }), s(50));
    expect(u.hops.synced).toBe(s(42));
  });

  it("does not take a ReplicaSet from before the write for this rollout", () => {
    const older = { name: "podinfo-older", revision: 3, createdAt: s(-50) };
    const t = observe(
      trace(),
      cluster({ syncedChanges: [s(41)], reloads: [reloadAt(42)], replicaSets: [OLD_RS, older] }),
      s(50),
    );
    expect(t.hops.rollout).toBeUndefined();
  });

  it("waits again when a counted pod loses readiness before every pod mounted the version", () => {
    const unmounted = rolledOut({
      pods: [
        pod("new-1", "podinfo-new", { ready: true, readyAt: s(60) }),
        pod("new-2", "podinfo-new", { ready: true, readyAt: s(70), mountedVersion: "v4abcdef0123" }),
      ],
    });
    let t = observe(trace(), unmounted, s(72));
    expect(t.hops.ready).toBe(s(70));
    t = observe(
      t,
      rolledOut({ pods: [pod("new-2", "podinfo-new", { ready: true, mountedVersion: "v4abcdef0123" })] }),
      s(75),
    );
    expect(t.hops.ready).toBeUndefined();
    expect(t.completedAt).toBeUndefined();
  });

  it("rotates in place a secret the synced Secret does not carry, and skips one no pod mounts", () => {
    const inPlace = cluster({
      syncedChanges: undefined,
      pods: [
        pod("old-1", "podinfo-old", { ready: true, mountedVersion: "v4abcdef0123" }),
        pod("old-2", "podinfo-old", { ready: true }),
      ],
    });
    let t = observe(trace(), inPlace, s(30));
    expect(t.mode).toBe("in-place");
    expect(pendingHop(t)).toBe("mounted");
    const all = cluster({
      syncedChanges: undefined,
      pods: [
        pod("old-1", "podinfo-old", { ready: true, mountedVersion: "v4abcdef0123" }),
        pod("old-2", "podinfo-old", { ready: true, mountedVersion: "v4abcdef0123" }),
      ],
    });
    t = observe(t, all, s(40));
    expect(t.completedAt).toBe(s(40));
    expect(completionSummary(t)).toBe(
      "color: v4abcdef reached 2/2 pods in 40s (mounted in place, no restart)",
    );

    const unused = observe(trace(), cluster({ syncedChanges: undefined, mountedByAny: false }), s(3));
    expect(unused.mode).toBe("unused");
    expect(completionSummary(unused)).toBe("color: v4abcdef is not mounted by any pod: nothing to roll");
  });

  it("calls an overdue sync complete when every pod already mounts the version (same value)", () => {
    const mounted = cluster({
      pods: [
        pod("old-1", "podinfo-old", { ready: true, mountedVersion: "v4abcdef0123" }),
        pod("old-2", "podinfo-old", { ready: true, mountedVersion: "v4abcdef0123" }),
      ],
    });
    const t = completeIfSameValue(observe(trace(), mounted, s(100)), mounted, s(200));
    expect(t.sameValue).toBe(true);
    expect(t.completedAt).toBe(s(200));
    expect(completeIfSameValue(observe(trace(), cluster({}), s(100)), cluster({}), s(200)).completedAt).toBe(
      undefined,
    );
  });

  it("reports crash-looping new pods at once, without waiting for the deadline", () => {
    const rolled = rolledOut({
      pods: [
        pod("old-1", "podinfo-old", { ready: true }),
        pod("old-2", "podinfo-old", { ready: true }),
        pod("new-1", "podinfo-new", { reason: "CrashLoopBackOff", restartCount: 1 }),
      ],
    });
    const t = observe(trace(), rolled, s(50));
    expect(earlyStuck(t, rolled)).toMatchObject({ hop: "ready", pods: ["new-1"] });
    const starting = rolledOut({ pods: [pod("new-1", "podinfo-new", { reason: "ContainerCreating" })] });
    expect(earlyStuck(observe(trace(), starting, s(50)), starting)).toBeUndefined();
  });

  it("keeps a real-time floor under scaled deadlines", () => {
    expect(deadlineFor(trace(), healthy, undefined, 600, 5_000)).toBe(T0 + 5_000);
    expect(deadlineFor(trace(), healthy, undefined, 1, 5_000)).toBe(s(165));
  });

  it("names the CSI driver's rotation it saw: the reconciler's events, or a rewrite without any", () => {
    const synced = { syncedChanges: [s(-100), s(41)] };
    const withEvents = observe(trace(), cluster({ ...synced, reconcilerEvents: [s(40)] }), s(41));
    expect(withEvents.driver).toBe("reconciler");
    // The events may arrive after the Secret's change; once seen, the reconciler stays the answer.
    expect(observe(withEvents, cluster(synced), s(50)).driver).toBe("reconciler");
    const without = observe(trace(), cluster(synced), s(41));
    expect(without.driver).toBe("republish");
    expect(completionCard(without, { lab: "team-a" }).fields).toContainEqual({
      label: "CSI driver",
      value: "rotation on the kubelet's republish (v1.6 or newer, no rotation events)",
    });
    expect(observe(trace(), cluster({}), s(41)).driver).toBeUndefined();
    // Reloader's restart is the rewrite seen from the other side, when the Secret's own event lags.
    const reloaded = observe(
      trace(),
      cluster({ reloads: [reloadAt(42)], replicaSets: [OLD_RS, NEW_RS] }),
      s(42),
    );
    expect(reloaded.driver).toBe("republish");
    const stuck = diagnose(withEvents, cluster({}), healthy);
    if (!stuck) throw new Error("no diagnosis");
    expect(stuckCard(withEvents, stuck, { lab: "team-a" }, s(200)).fields).toContainEqual({
      label: "CSI driver",
      value: "rotation reconciler (v1.5 or older)",
    });
  });

  it("diagnoses a missing sync from the pods' mounted versions when the driver emits no events", () => {
    const t = observe(trace(), cluster({}), s(200));
    expect(diagnose(t, cluster({}), healthy)?.cause).toMatch(/^no pod's mount shows the new version/);
    const mounted = cluster({
      pods: [
        pod("old-1", "podinfo-old", { ready: true, mountedVersion: "v4abcdef0123" }),
        pod("old-2", "podinfo-old", { ready: true, mountedVersion: "v4abcdef0123" }),
      ],
    });
    expect(diagnose(t, mounted, healthy)?.cause).toMatch(
      /^old-1, old-2 already mount the new version but the synced Secret was not rewritten/,
    );
  });

  it("shows tenths under ten seconds", () => {
    expect(formatHopTime(420)).toBe("0.4s");
    expect(formatHopTime(9_940)).toBe("9.9s");
    expect(formatHopTime(41_000)).toBe("41s");
  });
});
