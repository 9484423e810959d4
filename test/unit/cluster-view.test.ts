import { describe, expect, it } from "vitest";
import type { PodState } from "../../src/ports/cluster.ts";
import type { WatchedDeployment, WatchedEvent, WatchedReplicaSet } from "../../src/ports/cluster-watch.ts";
import { LabClusterView } from "../../src/watcher/cluster-view.ts";
import { ManualClock } from "../fakes/clock.ts";

const T0 = 1_700_000_000_000;

function setup() {
  const clock = new ManualClock({ now: T0 });
  let changes = 0;
  let secretChanges = 0;
  const view = new LabClusterView({
    clock,
    onChange: () => {
      changes += 1;
    },
    onSecretChange: () => {
      secretChanges += 1;
    },
    deployment: "podinfo-csi",
    retentionMs: 60_000,
  });
  return {
    view,
    at: (ms: number) => {
      clock.set(T0 + ms);
    },
    changes: () => changes,
    secretChanges: () => secretChanges,
  };
}

const secret = (keys: Record<string, string>) => ({ name: "keyvault-secrets", resourceVersion: "1", keys });
const deployment = (
  marker: string | undefined,
  extra: Partial<WatchedDeployment> = {},
): WatchedDeployment => ({
  name: "podinfo-csi",
  generation: 1,
  replicas: 2,
  readyReplicas: 2,
  availableReplicas: 2,
  reloaderAnnotations: { "reloader.stakater.com/auto": "true" },
  reloadMarker: marker,
  reloadedAt: undefined,
  ...extra,
});
const rs = (name: string, revision: number, marker?: string, replicas = 2): WatchedReplicaSet => ({
  name,
  deployment: "podinfo-csi",
  revision,
  reloadMarker: marker,
  replicas,
  readyReplicas: replicas,
  createdAt: T0 - 60_000,
});
const pod = (name: string, owner: string, extra: Partial<PodState> = {}): PodState => ({
  name,
  namespace: "secret-lab",
  phase: "Running",
  ready: true,
  reason: undefined,
  restartCount: 0,
  createdAt: T0 - 30_000,
  readyAt: T0 - 29_000,
  deletionTimestamp: undefined,
  labels: { app: "podinfo" },
  ownerReplicaSet: owner,
  ...extra,
});
const event = (
  uid: string,
  reason: string,
  count: number,
  extra: Partial<WatchedEvent> = {},
): WatchedEvent => ({
  uid,
  reason,
  message: `${reason} happened`,
  type: "Normal",
  involvedKind: "Pod",
  involvedName: "p-old-1",
  count,
  lastAt: T0 - 10_000,
  ...extra,
});

function listAll(v: LabClusterView, d: WatchedDeployment = deployment(undefined)) {
  v.replace("secret", [secret({ color: "d1", "db-connection-string": "d2" })]);
  v.replace("deployment", [d]);
  v.replace("replicaset", [rs("rs-old", 1)]);
  v.replace("pod", [pod("p-old-1", "rs-old"), pod("p-old-2", "rs-old")]);
  v.replace("mount", [
    {
      podName: "p-old-1",
      namespace: "secret-lab",
      secretProviderClass: "x",
      mounted: true,
      versions: { color: "v1" },
    },
  ]);
  v.replace("event", [event("e1", "SecretRotationComplete", 5)]);
}

describe("the lab cluster view", () => {
  it("is a picture of the cluster only once every kind has listed", () => {
    const { view } = setup();
    view.replace("secret", [secret({ color: "d1" })]);
    expect(view.synced).toBe(false);
    listAll(view);
    expect(view.synced).toBe(true);
  });

  it("records when a synced key changes, not what was there at the first list", () => {
    const s = setup();
    listAll(s.view);
    expect(s.view.observationFor("color").syncedChanges).toEqual([]);
    s.at(5_000);
    s.view.upsert("secret", secret({ color: "d1b", "db-connection-string": "d2" }));
    expect(s.view.observationFor("color").syncedChanges).toEqual([T0 + 5_000]);
    expect(s.view.observationFor("db-connection-string").syncedChanges).toEqual([]);
    expect(s.secretChanges()).toBe(1);
    // A relist after 410 is a diff: what changed while the watch was gone is a change, seen now.
    s.at(9_000);
    s.view.replace("secret", [secret({ color: "d1b", "db-connection-string": "d2b" })]);
    expect(s.view.observationFor("db-connection-string").syncedChanges).toEqual([T0 + 9_000]);
    // A secret the synced Secret does not carry is rotated in place.
    expect(s.view.observationFor("api-key").syncedChanges).toBeUndefined();
  });

  it("takes a reload found already done from Reloader's own whole-second time, marked coarse", () => {
    const s = setup();
    listAll(s.view, deployment("m0", { reloadedAt: T0 - 2_000 }));
    s.at(3_000);
    s.view.upsert("deployment", deployment("m1"));
    expect(s.view.observationFor("color").reloads).toEqual([
      { at: T0 - 2_000, marker: "m0", coarse: true },
      { at: T0 + 3_000, marker: "m1" },
    ]);
  });

  it("answers which pods and ReplicaSet ran at a moment, vanished pods included", () => {
    const s = setup();
    listAll(s.view);
    s.at(2_000);
    s.view.upsert("replicaset", rs("rs-new", 2, "m1", 1));
    s.view.upsert("pod", pod("p-new-1", "rs-new", { ready: false }));
    s.at(3_000);
    s.view.remove("pod", pod("p-old-1", "rs-old"));
    expect(s.view.podsAt(T0 + 1_000)).toEqual(["p-old-1", "p-old-2"]);
    expect(s.view.podsAt(T0 + 2_500)).toEqual(["p-new-1", "p-old-1", "p-old-2"]);
    expect(s.view.podsAt(T0 + 3_500)).toEqual(["p-new-1", "p-old-2"]);
    expect(s.view.replicaSetAt(T0 + 1_000)).toBe("rs-old");
    expect(s.view.replicaSetAt(T0 + 2_500)).toBe("rs-new");
    // Readiness seen turning on is timed when seen.
    s.at(4_000);
    s.view.upsert("pod", pod("p-new-1", "rs-new", { ready: true, readyAt: T0 }));
    expect(s.view.observationFor("color").pods.find((p) => p.name === "p-new-1")?.readyAt).toBe(T0 + 4_000);
  });

  it("times a mounted version from when it was first seen", () => {
    const s = setup();
    listAll(s.view);
    s.at(1_000);
    const mount = (v: string) => ({
      podName: "p-old-2",
      namespace: "secret-lab",
      secretProviderClass: "x",
      mounted: true,
      versions: { color: v },
    });
    s.view.upsert("mount", mount("v2"));
    s.at(2_000);
    s.view.upsert("mount", mount("v2"));
    const p = s.view.observationFor("color").pods.find((x) => x.name === "p-old-2");
    expect(p).toMatchObject({ mountedVersion: "v2", mountedAt: T0 + 1_000 });
  });

  it("counts only events that happen while watching, and folds the driver's rotation events", () => {
    const s = setup();
    listAll(s.view);
    expect(s.view.driverEventsBetween(T0 - 60_000, T0 + 60_000)).toBe(0);
    s.at(1_000);
    s.view.upsert("event", event("e1", "SecretRotationComplete", 6));
    s.at(2_000);
    s.view.upsert("event", event("e1", "SecretRotationComplete", 7));
    expect(s.view.driverEventsBetween(T0, T0 + 5_000)).toBe(2);
    s.view.upsert("event", event("e2", "FailedMount", 3, { involvedName: "p-new-1", type: "Warning" }));
    expect(s.view.observationFor("color").mountFailures).toEqual([
      { pod: "p-new-1", message: "FailedMount happened", at: T0 + 2_000, count: 3 },
    ]);
  });

  it("signals a pod of the current ReplicaSet taken away, but not a rollout's scale-down", () => {
    const s = setup();
    listAll(s.view);
    s.at(1_000);
    s.view.upsert("pod", pod("p-old-1", "rs-old", { deletionTimestamp: T0 + 1_000 }));
    expect(s.view.takeSignals()).toEqual([{ pod: "p-old-1", kind: "deleted", at: T0 + 1_000 }]);
    // A rollout: the new ReplicaSet is the newest, the old one's pods go.
    s.view.upsert("replicaset", rs("rs-new", 2, "m1"));
    s.view.upsert("replicaset", rs("rs-old", 1, undefined, 1));
    s.view.upsert("pod", pod("p-old-2", "rs-old", { deletionTimestamp: T0 + 1_000 }));
    expect(s.view.takeSignals()).toEqual([]);
    // An eviction says so.
    s.view.upsert("pod", pod("p-new-9", "rs-new"));
    s.view.upsert("pod", pod("p-new-9", "rs-new", { phase: "Failed", reason: "Evicted", ready: false }));
    expect(s.view.takeSignals()).toEqual([{ pod: "p-new-9", kind: "evicted", at: T0 + 1_000 }]);
  });

  it("tells pods first seen in a list from pods created while watching", () => {
    const s = setup();
    listAll(s.view);
    s.view.upsert("pod", pod("p-new-1", "rs-new", { restartCount: 2 }));
    const byName = Object.fromEntries(s.view.podRestarts().map((p) => [p.name, p.fromList]));
    expect(byName).toEqual({ "p-old-1": true, "p-old-2": true, "p-new-1": false });
  });
});
