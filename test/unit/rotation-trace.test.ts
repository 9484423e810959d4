import { describe, expect, it } from "vitest";
import {
  type ClusterObservation,
  completionSummary,
  type Diagnosis,
  deadlineFor,
  diagnose,
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

function cluster(extra: Partial<ClusterObservation>): ClusterObservation {
  return {
    syncedSecretChangedAt: s(-100),
    newestReplicaSet: { name: "podinfo-old", createdAt: s(-100) },
    reloadedAt: undefined,
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
    t = observe(t, cluster({ syncedSecretChangedAt: s(41) }), s(41));
    expect(t.hops.synced).toBe(s(41));
    t = observe(
      t,
      cluster({
        syncedSecretChangedAt: s(41),
        reloadedAt: s(42),
        newestReplicaSet: { name: "podinfo-new", createdAt: s(42) },
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
        syncedSecretChangedAt: s(41),
        reloadedAt: s(42),
        newestReplicaSet: { name: "podinfo-new", createdAt: s(42) },
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
    const t = observe(trace(), cluster({ syncedSecretChangedAt: s(-5) }), s(5));
    expect(t.hops.synced).toBeUndefined();
  });

  it("puts the sync deadline two poll intervals and some slack after the write, scaled", () => {
    expect(deadlineFor(trace(), healthy)).toBe(s(120 + 45));
    expect(deadlineFor(trace(), healthy, undefined, 10)).toBe(T0 + 16_500);
  });

  it("names Reloader when the synced Secret changed but nothing rolled", () => {
    const t = observe(trace(), cluster({ syncedSecretChangedAt: s(41) }), s(200));
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
        { pod: "old-1", message: "AADSTS70021: No matching federated identity record", at: s(30) },
      ],
    });
    expect(diagnose(t, failing, healthy)?.cause).toMatch(/cannot read the vault for old-1: AADSTS70021/);
  });

  it("names new pods crash-looping on the new value", () => {
    const rolled = cluster({
      syncedSecretChangedAt: s(41),
      reloadedAt: s(42),
      newestReplicaSet: { name: "podinfo-new", createdAt: s(42) },
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
});
