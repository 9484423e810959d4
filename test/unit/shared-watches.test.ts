import { describe, expect, it } from "vitest";
import type { PodState } from "../../src/ports/cluster.ts";
import type {
  ClusterWatchPort,
  ClusterWatchSink,
  WatchedObjects,
  WatchKind,
  WatchScope,
} from "../../src/ports/cluster-watch.ts";
import { SharedClusterWatches } from "../../src/watcher/shared-watches.ts";

/** The watch port behind the shared watches: records each watch it opens and lets the test feed it. */
function fakePort() {
  const opened: Array<{ kubeconfig: string; scope: WatchScope; sink: ClusterWatchSink; stopped: boolean }> =
    [];
  const port: ClusterWatchPort = {
    watch(kubeconfig, scope, sink) {
      const w = { kubeconfig, scope, sink, stopped: false };
      opened.push(w);
      return {
        openWatches: 6,
        stop: async () => {
          w.stopped = true;
        },
      };
    },
  };
  return { port, opened };
}

function pod(namespace: string, name: string): PodState {
  return {
    name,
    namespace,
    phase: "Running",
    ready: true,
    reason: undefined,
    restartCount: 0,
    createdAt: 0,
    readyAt: 0,
    deletionTimestamp: undefined,
    labels: {},
    ownerReplicaSet: undefined,
  };
}

/** A lab's side: what its view was told, per kind. */
function recorder() {
  const seen: Array<[string, WatchKind, string[]]> = [];
  const names = (o: WatchedObjects[WatchKind]) => ("podName" in o ? o.podName : "uid" in o ? o.uid : o.name);
  const sink: ClusterWatchSink = {
    replace: (kind, objects) => seen.push(["replace", kind, objects.map(names)]),
    upsert: (kind, object) => seen.push(["upsert", kind, [names(object)]]),
    remove: (kind, object) => seen.push(["remove", kind, [names(object)]]),
    failed: (kind) => seen.push(["failed", kind, []]),
  };
  return { sink, seen };
}

const scope = (namespace: string, shareKey?: string): WatchScope => ({
  namespace,
  deployment: "podinfo-csi",
  podSelector: "app=podinfo",
  syncedSecret: "keyvault-secrets",
  ...(shareKey ? { shareKey } : {}),
});

describe("SharedClusterWatches", () => {
  it("opens one watch across namespaces for every lab of a host, and routes by namespace", async () => {
    const { port, opened } = fakePort();
    const shared = new SharedClusterWatches(port);
    const a = recorder();
    const b = recorder();
    const wa = shared.watch("kc", scope("lab-a", "host-ws"), a.sink);
    const wb = shared.watch("kc", scope("lab-b", "host-ws"), b.sink);
    expect(opened).toHaveLength(1);
    expect(opened[0]?.scope.allNamespaces).toBe(true);
    expect(shared.hosts).toEqual({ "host-ws": { labs: 2, openWatches: 6 } });

    const host = opened[0]?.sink;
    host?.replace("pod", [pod("lab-a", "a1"), pod("lab-b", "b1"), pod("kube-system", "x")]);
    host?.upsert("pod", pod("lab-b", "b2"));
    host?.remove("pod", pod("lab-a", "a1"));
    expect(a.seen).toEqual([
      ["replace", "pod", ["a1"]],
      ["remove", "pod", ["a1"]],
    ]);
    expect(b.seen).toEqual([
      ["replace", "pod", ["b1"]],
      ["upsert", "pod", ["b2"]],
    ]);

    // A lab joining later is told what the host's watch has seen in its namespace, as a list would.
    const late = recorder();
    const wl = shared.watch("kc", scope("lab-b", "host-ws"), late.sink);
    expect(late.seen).toEqual([["replace", "pod", ["b1", "b2"]]]);

    await wa.stop();
    await wb.stop();
    expect(opened[0]?.stopped).toBe(false);
    await wl.stop();
    expect(opened[0]?.stopped).toBe(true);
    expect(shared.hosts).toEqual({});
  });

  it("gives a dedicated lab watches of its own", () => {
    const { port, opened } = fakePort();
    const shared = new SharedClusterWatches(port);
    shared.watch("kc1", scope("secret-lab"), recorder().sink);
    shared.watch("kc2", scope("secret-lab"), recorder().sink);
    expect(opened.map((o) => [o.kubeconfig, o.scope.allNamespaces])).toEqual([
      ["kc1", undefined],
      ["kc2", undefined],
    ]);
  });

  it("restarts the host's watch with a fresh credential after it was refused", () => {
    const { port, opened } = fakePort();
    const shared = new SharedClusterWatches(port);
    const a = recorder();
    shared.watch("old", scope("lab-a", "host-ws"), a.sink);
    const refused = Object.assign(new Error("Unauthorized"), { statusCode: 401 });
    opened[0]?.sink.failed?.("pod", refused, 100);
    expect(a.seen).toEqual([["failed", "pod", []]]);
    shared.watch("fresh", scope("lab-a", "host-ws"), recorder().sink);
    expect(opened.map((o) => [o.kubeconfig, o.stopped])).toEqual([
      ["old", true],
      ["fresh", false],
    ]);
  });
});
