import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClusterWatchPort } from "../../adapters/kubernetes/watch.ts";
import { systemClock } from "../../src/clock.ts";
import type {
  ClusterWatch,
  ClusterWatchSink,
  WatchedObjects,
  WatchKind,
} from "../../src/ports/cluster-watch.ts";
import { CSI_DRIVER_RELEASES } from "../helpers/world.ts";
import { waitFor } from "./helpers/kube.ts";
import { applyAll, createIdentity, type LabWorld, renderLabManifest, startLabWorld } from "./helpers/lab.ts";

/**
 * The watch adapter on client-node against the AKS emulator: one watch per
 * resource type, resumed after the server drops them, re-listed after 410
 * Gone, retried with back-off after errors, and never a secret value in
 * what it hands on.
 */
const TIME_SCALE = 1000;
const NS = "secret-lab";

interface Recorded {
  replaces: Record<string, number>;
  events: Array<{ op: "replace" | "upsert" | "remove"; kind: WatchKind; object: unknown }>;
  failures: Array<{ kind: WatchKind; status: number | undefined; retryInMs: number }>;
}

function recorder(): ClusterWatchSink & Recorded {
  const r: Recorded = { replaces: {}, events: [], failures: [] };
  return {
    ...r,
    replace<K extends WatchKind>(kind: K, objects: WatchedObjects[K][]) {
      r.replaces[kind] = (r.replaces[kind] ?? 0) + 1;
      r.events.push({ op: "replace", kind, object: objects });
    },
    upsert<K extends WatchKind>(kind: K, object: WatchedObjects[K]) {
      r.events.push({ op: "upsert", kind, object });
    },
    remove<K extends WatchKind>(kind: K, object: WatchedObjects[K]) {
      r.events.push({ op: "remove", kind, object });
    },
    failed(kind, error, retryInMs) {
      r.failures.push({ kind, status: (error as { statusCode?: number }).statusCode, retryInMs });
    },
  };
}

// Under each CSI driver release the AKS emulator models (the watcher relies on no rotation event).
const SUITE = "lab cluster watches on client-node (CSI driver %s)";

describe.each(CSI_DRIVER_RELEASES)(SUITE, (csiDriver) => {
  let world: LabWorld;
  let watch: ClusterWatch;
  let sink: ReturnType<typeof recorder>;
  const cluster = () => {
    const c = world.kube.cluster(world.clusterName);
    if (!c) throw new Error("no cluster");
    return c;
  };
  const podUpserts = () => sink.events.filter((e) => e.op === "upsert" && e.kind === "pod").length;

  beforeAll(async () => {
    world = await startLabWorld(TIME_SCALE, `informers${csiDriver.replace(".", "")}`, { csiDriver });
    const mi = await createIdentity(
      world,
      "lab-informers-mi",
      `system:serviceaccount:${NS}:secret-lab-sa`,
      true,
    );
    await applyAll(world, await renderLabManifest("reloader.yaml", {}));
    await applyAll(
      world,
      await renderLabManifest("workload.yaml", {
        MI_CLIENT_ID: mi.clientId,
        KEYVAULT_NAME: world.vaultName,
        TENANT_ID: world.azure.tenantId,
        REPLICAS: "2",
      }),
    );
    await waitFor("the synced Secret", async () =>
      (await world.core.listNamespacedSecret({ namespace: NS })).items.some(
        (s) => s.metadata?.name === "keyvault-secrets",
      ),
    );
    sink = recorder();
    const port = new KubeClusterWatchPort({ clock: systemClock(), backoff: { initialMs: 50, maxMs: 400 } });
    watch = port.watch(
      cluster().kubeconfig(),
      {
        namespace: NS,
        deployment: "podinfo-csi",
        podSelector: "app=podinfo",
        syncedSecret: "keyvault-secrets",
      },
      sink,
    );
  }, 60_000);

  afterAll(async () => {
    await watch?.stop();
    await world?.stop();
  });

  it("lists each kind once and keeps one watch open per kind", async () => {
    await waitFor("every kind listed and watched", () =>
      Object.keys(sink.replaces).length === 6 && watch.openWatches === 6 ? true : undefined,
    );
    expect(Object.keys(sink.replaces).sort()).toEqual(
      ["deployment", "event", "mount", "pod", "replicaset", "secret"].sort(),
    );
    expect(cluster().inventory().watches).toBe(6);
    const secrets = sink.events.find((e) => e.op === "replace" && e.kind === "secret")?.object as Array<
      WatchedObjects["secret"]
    >;
    expect(secrets.map((s) => s.name)).toEqual(["keyvault-secrets"]);
    expect(Object.keys(secrets[0]?.keys ?? {}).sort()).toEqual(["color", "db-connection-string"]);
  });

  it("resumes where it was when the server drops every stream (no relist)", async () => {
    const lists = { ...sink.replaces };
    const before = podUpserts();
    cluster().dropWatches();
    await world.apps.patchNamespacedDeploymentScale({
      namespace: NS,
      name: "podinfo-csi",
      // client-node sends typed patches as JSON patch.
      body: [{ op: "replace", path: "/spec/replicas", value: 3 }],
    });
    await waitFor("the scale-up seen through resumed watches", () =>
      podUpserts() > before ? true : undefined,
    );
    await waitFor("six watches again", () => (watch.openWatches === 6 ? true : undefined));
    expect(sink.replaces).toEqual(lists);
  });

  it("lists again after 410 Gone, then follows on", async () => {
    const podLists = sink.replaces.pod ?? 0;
    // A write the pod watch does not see moves the cluster past its resourceVersion, so that resuming
    // from it needs the history compaction drops (resuming at the newest revision would still be
    // valid). All in one turn: after a write over HTTP, the turn before the compaction could hand the
    // pod watch the newest revision (the kubelet writing a pod, a bookmark), and it then resumed
    // without a 410 and never listed again (seen once in a full run, under CSI driver 1.6).
    cluster().moveRevisionOn();
    cluster().compactWatchHistory();
    cluster().dropWatches();
    await waitFor("a relist of pods", () => ((sink.replaces.pod ?? 0) > podLists ? true : undefined));
    const before = podUpserts();
    await world.apps.patchNamespacedDeploymentScale({
      namespace: NS,
      name: "podinfo-csi",
      // client-node sends typed patches as JSON patch.
      body: [{ op: "replace", path: "/spec/replicas", value: 2 }],
    });
    await waitFor("changes after the relist", () => (podUpserts() > before ? true : undefined));
  });

  it("backs off with jitter after errors and recovers", async () => {
    const heal = cluster().injectFault({
      method: "GET",
      path: /\/pods/,
      status: 500,
      message: "etcd hiccup",
    });
    cluster().dropWatches();
    await waitFor("failures reported", () =>
      sink.failures.filter((f) => f.kind === "pod").length >= 2 ? true : undefined,
    );
    const pods = sink.failures.filter((f) => f.kind === "pod");
    expect(pods.every((f) => f.retryInMs >= 25 && f.retryInMs <= 400)).toBe(true);
    heal();
    await waitFor("the pod watch back", () => (watch.openWatches === 6 ? true : undefined));
  });

  it("hands on no secret value, only digests", () => {
    const seen = JSON.stringify(sink.events);
    expect(seen).not.toContain("blue");
    expect(seen).not.toContain("Password=p1");
    expect(seen).not.toContain(Buffer.from("blue").toString("base64"));
  });
});
