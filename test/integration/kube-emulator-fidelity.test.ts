import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KubernetesEmulator, startKubernetesEmulator } from "../../emulators/kubernetes/index.ts";
import { type ManualClock, manualClock } from "../../emulators/shared/clock.ts";
import { type FakeAzureWorld, fakeAzureWorld } from "./helpers/fake-azure-world.ts";
import { expectApiError, type KubeTestBed, startKubeTestBed, waitFor } from "./helpers/kube.ts";

// Where the AKS emulator was held against the real API server and kubelet (issue 18, gaps 1 and 4 to 6),
// through client-node. Each expectation names the source it was read from.

const SCALE = 200;
let bed: KubeTestBed;

beforeAll(async () => {
  bed = await startKubeTestBed(SCALE);
});

afterAll(async () => {
  await bed?.stop();
});

const seconds = (a: Date | string | undefined, b: Date | string | undefined) =>
  (new Date(a ?? 0).getTime() - new Date(b ?? 0).getTime()) / 1000;

async function namespace(name: string): Promise<void> {
  await bed.core.createNamespace({ body: { metadata: { name } } });
}

/** A pod that can never start: its secret volume names a Secret that does not exist. */
function stuckDeployment(name: string): k8s.V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas: 1,
      progressDeadlineSeconds: 30,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [{ name: "app", image: "ghcr.io/stefanprodan/podinfo:6.7.1" }],
          volumes: [{ name: "config", secret: { secretName: "does-not-exist" } }],
        },
      },
    },
  };
}

describe("one emulated clock (gap 1)", () => {
  it("stamps what the API returns in emulated time, so durations between timestamps are Azure's", async () => {
    const ns = "clock-stamps";
    await namespace(ns);
    const first = await bed.core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: "a" } },
    });
    await new Promise((r) => setTimeout(r, 1000));
    const second = await bed.core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: "b" } },
    });
    // One real second at time scale 200 is 200 emulated seconds between the two creationTimestamps.
    const apart = seconds(second.metadata?.creationTimestamp, first.metadata?.creationTimestamp);
    expect(apart).toBeGreaterThanOrEqual(150);
    expect(apart).toBeLessThan(3000);
  });

  it("reports ProgressDeadlineExceeded once progressDeadlineSeconds of emulated time have passed", async () => {
    const ns = "clock-deadline";
    await namespace(ns);
    const created = await bed.apps.createNamespacedDeployment({
      namespace: ns,
      body: stuckDeployment("stuck"),
    });
    // 30 emulated seconds are 150 ms here; a deployment controller on the wall clock takes 30 real seconds.
    const progressing = await waitFor(
      "ProgressDeadlineExceeded",
      async () => {
        const d = await bed.apps.readNamespacedDeployment({ name: "stuck", namespace: ns });
        const c = d.status?.conditions?.find((x) => x.type === "Progressing");
        return c?.reason === "ProgressDeadlineExceeded" ? c : undefined;
      },
      6000,
    );
    // pkg/controller/deployment/progress.go: the deadline runs from the condition's lastUpdateTime.
    expect(progressing.status).toBe("False");
    const after = seconds(progressing.lastTransitionTime, created.metadata?.creationTimestamp);
    expect(after).toBeGreaterThanOrEqual(30);
    expect(after).toBeLessThan(120);
    // The kubelet's mount retries are spaced in emulated time too (back-off from 500 ms doubling).
    const failed = await waitFor("repeated FailedMount", async () => {
      const list = await bed.core.listNamespacedEvent({ namespace: ns, fieldSelector: "reason=FailedMount" });
      const e = list.items[0];
      return e && (e.count ?? 0) >= 5 ? e : undefined;
    });
    expect(seconds(failed.lastTimestamp, failed.firstTimestamp)).toBeGreaterThanOrEqual(7);
  });
});

describe("watch edge cases (gap 4)", () => {
  it("sends an object that stops matching the label selector as DELETED with its previous content", async () => {
    const ns = "watch-leave";
    await namespace(ns);
    const list = await bed.core.listNamespacedConfigMap({ namespace: ns });
    const seen: { type: string; object: k8s.V1ConfigMap }[] = [];
    const ctrl = await new k8s.Watch(bed.kc).watch(
      `/api/v1/namespaces/${ns}/configmaps`,
      { resourceVersion: list.metadata?.resourceVersion, labelSelector: "tier=front" },
      (type, object: k8s.V1ConfigMap) => {
        seen.push({ type, object });
      },
      () => {},
    );
    await bed.core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: "moves", labels: { tier: "front" } }, data: { v: "1" } },
    });
    const moved = await bed.core.replaceNamespacedConfigMap({
      name: "moves",
      namespace: ns,
      body: { metadata: { name: "moves", labels: { tier: "back" } }, data: { v: "2" } },
    });
    const deleted = await waitFor("the DELETED", () => seen.find((s) => s.type === "DELETED"));
    ctrl.abort();
    // staging/src/k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go convertToWatchEvent: "return a
    // delete event with the previous object content, but with the event's resource version".
    expect(deleted.object.metadata?.labels).toEqual({ tier: "front" });
    expect(deleted.object.data).toEqual({ v: "1" });
    expect(deleted.object.metadata?.resourceVersion).toBe(moved.metadata?.resourceVersion);
  });

  it("answers a watch from a resourceVersion older than the watch cache with 410 Expired", async () => {
    const seen: { type: string; object: { code?: number; reason?: string; message?: string } }[] = [];
    let ended = false;
    await new k8s.Watch(bed.kc).watch(
      "/api/v1/configmaps",
      { resourceVersion: "1" },
      (type, object: { code?: number; reason?: string; message?: string }) => {
        seen.push({ type, object });
      },
      () => {
        ended = true;
      },
    );
    await waitFor("the watch to end", () => ended);
    // watch_cache.go getAllEventsSinceLocked: resourceVersion < oldest-1 is "too old resource version".
    expect(seen.map((s) => s.type)).toEqual(["ERROR"]);
    expect(seen[0]?.object).toMatchObject({ code: 410, reason: "Expired" });
    expect(seen[0]?.object.message).toMatch(/^too old resource version: 1 \(\d+\)$/);
  });
});

describe("field selectors (gap 5)", () => {
  it("refuses an unsupported field selector with 400 even when the collection is empty", async () => {
    const ns = "fields-empty";
    await namespace(ns);
    // handlers/get.go ListResource converts the labels before listing; a kind without its own conversion
    // gets runtime.DefaultMetaV1FieldSelectorConversion's message (apimachinery pkg/runtime/conversion.go).
    const cm = await expectApiError(
      bed.core.listNamespacedConfigMap({ namespace: ns, fieldSelector: "data.a=1" }),
    );
    expect(cm.code).toBe(400);
    expect(cm.status.reason).toBe("BadRequest");
    expect(cm.status.message).toBe(
      '"data.a" is not a known field selector: only "metadata.name", "metadata.namespace"',
    );
    // Kinds with a conversion function (pkg/apis/core/v1/conversion.go) say "field label not supported".
    const pods = await expectApiError(
      bed.core.listNamespacedPod({ namespace: ns, fieldSelector: "spec.image=x" }),
    );
    expect(pods.code).toBe(400);
    expect(pods.status.message).toBe("field label not supported: spec.image");
    const deployments = await expectApiError(
      bed.apps.listNamespacedDeployment({ namespace: ns, fieldSelector: "status.replicas=1" }),
    );
    expect(deployments.status.message).toBe(
      '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"',
    );
    // What the conversion accepts still filters.
    const phase = await bed.core.listNamespacedPod({ namespace: ns, fieldSelector: "status.phase=Running" });
    expect(phase.items).toEqual([]);
  });
});

describe("messages tools match on (gap 6)", () => {
  it("answers a JSON patch whose test fails with the API server's generic 422", async () => {
    const ns = "msg-patch";
    await namespace(ns);
    await bed.core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: "c" }, data: { a: "1" } },
    });
    const error = await expectApiError(
      bed.core.patchNamespacedConfigMap({
        name: "c",
        namespace: ns,
        body: [
          { op: "test", path: "/data/a", value: "2" },
          { op: "replace", path: "/data/a", value: "3" },
        ],
      }),
    );
    // handlers/patch.go applyJSPatch: NewGenericServerResponse(422, …), reason Invalid, fixed message,
    // details with nothing in them (apimachinery pkg/api/errors/errors.go).
    expect(error.code).toBe(422);
    expect(error.status).toMatchObject({
      reason: "Invalid",
      message: "the server rejected our request due to an error in our request",
      details: {},
    });
  });

  it("names an Update manager's API version but no time in a server-side apply conflict", async () => {
    const ns = "msg-apply";
    await namespace(ns);
    const applied = (data: Record<string, string>, force = false) =>
      bed.objects.patch(
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: ns }, data },
        undefined,
        undefined,
        "labops",
        force,
        k8s.PatchStrategy.ServerSideApply,
      );
    await applied({ a: "1" });
    await bed.core.replaceNamespacedConfigMap({
      name: "c",
      namespace: ns,
      fieldManager: "editor",
      body: { metadata: { name: "c" }, data: { a: "1", b: "edited" } },
    });
    const conflict = await expectApiError(applied({ a: "1", b: "mine" }));
    // apimachinery pkg/util/managedfields/internal/conflict.go printManager over the identifier that
    // internal/managedfields.go BuildManagerIdentifier builds "Never include the time".
    expect(conflict.code).toBe(409);
    expect(conflict.status.message).toBe(
      'Apply failed with 1 conflict: conflict with "editor" using v1: .data.b',
    );
  });

  it("words a missing SecretProviderClass with its kind, as the driver's cached client does", async () => {
    const ns = "msg-spc";
    await namespace(ns);
    const info = bed.world.clusters()[0];
    if (!info) throw new Error("no cluster");
    bed.world.updateCluster({
      ...info,
      keyVaultAddon: { enabled: true, enableSecretRotation: true, rotationPollInterval: "2m" },
    });
    await bed.core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "p" },
        spec: {
          containers: [{ name: "app", image: "ghcr.io/stefanprodan/podinfo:6.7.1" }],
          volumes: [
            {
              name: "secrets-store",
              csi: {
                driver: "secrets-store.csi.k8s.io",
                readOnly: true,
                volumeAttributes: { secretProviderClass: "missing" },
              },
            },
          ],
        },
      },
    });
    const message = await waitFor("the FailedMount", async () => {
      const list = await bed.core.listNamespacedEvent({ namespace: ns, fieldSelector: "reason=FailedMount" });
      return list.items.map((e) => e.message ?? "").find((m) => m.includes("secretproviderclass"));
    });
    // secrets-store-csi-driver pkg/secrets-store/utils.go getSecretProviderItem wraps controller-runtime's
    // CacheReader NotFound, whose "resource" is the Kind (pkg/cache/internal/cache_reader.go).
    expect(message).toBe(
      `MountVolume.SetUp failed for volume "secrets-store" : rpc error: code = Unknown desc = failed to get secretproviderclass ${ns}/missing, error: SecretProviderClass.secrets-store.csi.x-k8s.io "missing" not found`,
    );
  });
});

describe("the 1.33 kubelet's mount timeout (gap 6)", () => {
  let clock: ManualClock;
  let world: FakeAzureWorld;
  let emulator: KubernetesEmulator;
  let core: k8s.CoreV1Api;

  beforeAll(async () => {
    clock = manualClock();
    world = fakeAzureWorld(clock);
    emulator = await startKubernetesEmulator({ azure: world });
    const info = world.addCluster();
    const cluster = await emulator.waitForCluster(info.id);
    const kc = new k8s.KubeConfig();
    kc.loadFromString(cluster.kubeconfig());
    core = kc.makeApiClient(k8s.CoreV1Api);
  });

  afterAll(async () => {
    await emulator?.stop();
  });

  it("records no 'Unable to attach or mount volumes … timed out' event when the mount wait times out", async () => {
    await clock.advance(1000);
    await core.createNamespace({ body: { metadata: { name: "timeout" } } });
    await clock.advance(1000);
    await core.createNamespacedPod({
      namespace: "timeout",
      body: {
        metadata: { name: "p" },
        spec: {
          containers: [{ name: "app", image: "ghcr.io/stefanprodan/podinfo:6.7.1" }],
          volumes: [{ name: "config", secret: { secretName: "does-not-exist" } }],
        },
      },
    });
    // Five emulated minutes, well past the 2m3s the kubelet waits for volumes.
    for (let i = 0; i < 300; i++) await clock.advance(1000);
    const events = await core.listNamespacedEvent({ namespace: "timeout" });
    const messages = events.items.map((e) => `${e.reason}: ${e.message}`);
    expect(messages).toContain(
      'FailedMount: MountVolume.SetUp failed for volume "config" : secret "does-not-exist" not found',
    );
    // pkg/kubelet/kubelet.go SyncPod: `if !wait.Interrupted(err)` around the FailedMountVolume event.
    expect(messages.filter((m) => m.includes("Unable to attach or mount volumes"))).toEqual([]);
  });
});
