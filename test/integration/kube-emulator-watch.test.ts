import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KubeTestBed, startKubeTestBed, waitFor } from "./helpers/kube.ts";

// Watches and informers of client-node against the AKS emulator's API server.

let bed: KubeTestBed;
const NS = "watched";

beforeAll(async () => {
  bed = await startKubeTestBed();
  await bed.core.createNamespace({ body: { metadata: { name: NS } } });
});

afterAll(async () => {
  await bed?.stop();
});

interface Seen {
  type: string;
  name: string;
  rv: number;
  object: k8s.KubernetesObject & { code?: number; reason?: string };
}

describe("watch", () => {
  it("streams ADDED, MODIFIED and DELETED from a resourceVersion, then a bookmark when it times out", async () => {
    const list = await bed.core.listNamespacedConfigMap({ namespace: NS });
    const seen: Seen[] = [];
    let ended = false;
    const watch = new k8s.Watch(bed.kc);
    await watch.watch(
      `/api/v1/namespaces/${NS}/configmaps`,
      { resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 900 },
      (type, object: k8s.KubernetesObject) => {
        seen.push({
          type,
          name: object.metadata?.name ?? "",
          rv: Number(object.metadata?.resourceVersion),
          object,
        });
      },
      () => {
        ended = true;
      },
    );
    await bed.core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: "w1" }, data: { a: "1" } },
    });
    await bed.core.replaceNamespacedConfigMap({
      name: "w1",
      namespace: NS,
      body: { metadata: { name: "w1" }, data: { a: "2" } },
    });
    await bed.core.deleteNamespacedConfigMap({ name: "w1", namespace: NS });
    await waitFor("the server to end the watch", () => ended);
    const forW1 = seen.filter((s) => s.name === "w1");
    expect(forW1.map((s) => s.type)).toEqual(["ADDED", "MODIFIED", "DELETED"]);
    expect(forW1[1]?.rv).toBeGreaterThan(forW1[0]?.rv ?? 0);
    expect(forW1[2]?.rv).toBeGreaterThan(forW1[1]?.rv ?? 0);
    const last = seen[seen.length - 1];
    expect(last?.type).toBe("BOOKMARK");
    expect(last?.rv).toBeGreaterThanOrEqual(forW1[2]?.rv ?? 0);
  });

  it("replays what happened since the resourceVersion it resumes from", async () => {
    const list = await bed.core.listNamespacedConfigMap({ namespace: NS });
    await bed.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: "before-watch" } } });
    const seen: Seen[] = [];
    const watch = new k8s.Watch(bed.kc);
    const ctrl = await watch.watch(
      `/api/v1/namespaces/${NS}/configmaps`,
      { resourceVersion: list.metadata?.resourceVersion },
      (type, object: k8s.KubernetesObject) => {
        seen.push({
          type,
          name: object.metadata?.name ?? "",
          rv: Number(object.metadata?.resourceVersion),
          object,
        });
      },
      () => {},
    );
    await waitFor("the replayed ADDED", () =>
      seen.some((s) => s.name === "before-watch" && s.type === "ADDED"),
    );
    ctrl.abort();
  });

  it("ends with a 410 ERROR event when the resourceVersion is older than the retained history", async () => {
    const list = await bed.core.listNamespacedConfigMap({ namespace: NS });
    await bed.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: "after-list" } } });
    bed.cluster.compactWatchHistory();
    const seen: Seen[] = [];
    let ended = false;
    const watch = new k8s.Watch(bed.kc);
    await watch.watch(
      `/api/v1/namespaces/${NS}/configmaps`,
      { resourceVersion: list.metadata?.resourceVersion },
      (type, object: Seen["object"]) => {
        seen.push({ type, name: object.metadata?.name ?? "", rv: 0, object });
      },
      () => {
        ended = true;
      },
    );
    await waitFor("the watch to end", () => ended);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.type).toBe("ERROR");
    expect(seen[0]?.object).toMatchObject({ kind: "Status", code: 410, reason: "Expired" });
    expect((seen[0]?.object as { message?: string } | undefined)?.message).toMatch(
      /^too old resource version: \d+ \(\d+\)$/,
    );
  });
});

describe("informer", () => {
  it("keeps a cache and relists after a 410", async () => {
    const ns = "informed";
    await bed.core.createNamespace({ body: { metadata: { name: ns } } });
    let lists = 0;
    const informer = k8s.makeInformer(bed.kc, `/api/v1/namespaces/${ns}/configmaps`, () => {
      lists++;
      return bed.core.listNamespacedConfigMap({ namespace: ns });
    });
    const added: string[] = [];
    const errors: unknown[] = [];
    informer.on(k8s.ADD, (o) => added.push(o.metadata?.name ?? ""));
    informer.on(k8s.ERROR, (e) => errors.push(e));
    await informer.start();
    try {
      await bed.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "a" } } });
      await waitFor("a in the cache", () => informer.get("a", ns) !== undefined);
      // Something else moves the cluster's revision on, then history is compacted past the informer's
      // revision, in one turn (nothing can hand the informer the newest revision in between).
      bed.cluster.moveRevisionOn();
      bed.cluster.compactWatchHistory();
      bed.cluster.dropWatches();
      await waitFor("the informer to relist", () => lists >= 2, 20_000);
      await bed.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "c" } } });
      await waitFor("c in the cache", () => informer.get("c", ns) !== undefined, 20_000);
      expect(added).toEqual(expect.arrayContaining(["a", "c"]));
      expect(informer.list(ns).map((o) => o.metadata?.name)).toEqual(
        expect.arrayContaining(["a", "c", "kube-root-ca.crt"]),
      );
      expect(errors).toEqual([]);
    } finally {
      await informer.stop();
    }
  });
});
