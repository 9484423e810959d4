import type * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CsiDriverRelease } from "../../emulators/kubernetes/index.ts";
import { waitFor } from "./helpers/kube.ts";
import {
  applyAll,
  createIdentity,
  type Identity,
  inNamespace,
  type LabWorld,
  renderLabManifest,
  startLabWorld,
} from "./helpers/lab.ts";

// The Secrets Store CSI driver and its Azure provider against the real sources (issue 18, gaps 2, 3
// and 7), under both driver releases the AKS emulator models, through the Azure SDKs and client-node.

const TIME_SCALE = 500;
const RELEASES: CsiDriverRelease[] = ["1.5", "1.6"];

type PodStatusObject = k8s.KubernetesObject & {
  status: { objects: { id: string; version: string }[] };
};

describe.each(RELEASES)("with the CSI driver %s", (release) => {
  let world: LabWorld;

  const values = (identity: Identity) => ({
    MI_CLIENT_ID: identity.clientId,
    KEYVAULT_NAME: world.vaultName,
    TENANT_ID: world.azure.tenantId,
    REPLICAS: "1",
  });

  const readyPods = async (ns: string) =>
    (await world.core.listNamespacedPod({ namespace: ns, labelSelector: "app=podinfo" })).items.filter(
      (p) =>
        p.metadata?.deletionTimestamp === undefined &&
        p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    );

  const podStatus = async (ns: string, pod: string) =>
    (await world.objects.read({
      apiVersion: "secrets-store.csi.x-k8s.io/v1",
      kind: "SecretProviderClassPodStatus",
      metadata: { name: `${pod}-${ns}-azure-keyvault-secrets`, namespace: ns },
    })) as PodStatusObject;

  const decoded = (s: k8s.V1Secret, key: string) => Buffer.from(s.data?.[key] ?? "", "base64").toString();

  /** The emulated clock now, read from the API server (a fresh object's creationTimestamp). */
  const emulatedNow = async (ns: string) => {
    const cm = await world.core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { generateName: "clock-" } },
    });
    return new Date(cm.metadata?.creationTimestamp ?? 0).getTime();
  };

  beforeAll(async () => {
    world = await startLabWorld(TIME_SCALE, `csi${release.replace(".", "")}`, {
      csiDriver: release,
      rotationPollInterval: "3m",
    });
  });

  afterAll(async () => {
    await world?.stop();
  });

  async function deploy(ns: string, edit?: (o: k8s.KubernetesObject) => void): Promise<Identity> {
    const identity = await createIdentity(
      world,
      `${ns}-mi`,
      `system:serviceaccount:${ns}:secret-lab-sa`,
      true,
    );
    const objects = inNamespace(await renderLabManifest("workload.yaml", values(identity)), ns);
    for (const o of objects) edit?.(o);
    await applyAll(world, objects);
    return identity;
  }

  it("mounts without the service account annotation or the pod label, and injects no Azure env (gap 3)", async () => {
    const ns = `no-webhook-${release.replace(".", "")}`;
    await deploy(ns, (o) => {
      if (o.kind === "ServiceAccount") {
        delete o.metadata?.annotations;
        delete o.metadata?.labels;
      }
      if (o.kind === "Deployment") {
        const labels = (o as k8s.V1Deployment).spec?.template.metadata?.labels;
        if (labels) delete labels["azure.workload.identity/use"];
      }
    });
    // provider-azure pkg/provider/provider.go takes the client id from the class's parameters and the
    // token from the kubelet's token request: neither the annotation nor the label matters to it.
    const [pod] = await waitFor("a ready pod", async () => {
      const ready = await readyPods(ns);
      return ready.length === 1 ? ready : undefined;
    });
    const name = pod?.metadata?.name ?? "";
    expect((await podStatus(ns, name)).status.objects.map((o) => o.id)).toEqual([
      "secret/color",
      "secret/db-connection-string",
    ]);
    // The workload identity webhook only mutates pods labelled azure.workload.identity/use=true.
    const env = (world.kube.cluster(world.clusterName)?.containerEnv(ns, name) ?? []).map(([k]) => k);
    expect(env).toContain("PODINFO_UI_COLOR");
    expect(env.filter((k) => k.startsWith("AZURE_"))).toEqual([]);
  });

  it("leaves a Secret it did not create alone (1.5) or replaces it (1.6) (gap 2)", async () => {
    const ns = `owned-${release.replace(".", "")}`;
    await world.core.createNamespace({ body: { metadata: { name: ns } } });
    const mine = Buffer.from("mine").toString("base64");
    await world.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: "keyvault-secrets", labels: { owner: "me" } },
        data: { color: mine, "db-connection-string": mine },
      },
    });
    await deploy(ns);
    await waitFor("a ready pod", async () => (await readyPods(ns)).length === 1);
    // Several patcher periods (5 s each) and a pod status controller pass.
    const now = await emulatedNow(ns);
    await waitFor("30 emulated seconds", async () => (await emulatedNow(ns)) - now >= 30_000);
    const secret = await world.core.readNamespacedSecret({ name: "keyvault-secrets", namespace: ns });
    if (release === "1.5") {
      // v1.5.6 controllers/secretproviderclasspodstatus_controller.go createK8sSecret: AlreadyExists is
      // no error; the patcher reads through the manager's cache, which only holds Secrets labelled
      // secrets-store.csi.k8s.io/managed=true (cmd/secrets-store-csi-driver/main.go).
      expect(decoded(secret, "color")).toBe("mine");
      expect(secret.metadata?.labels).toEqual({ owner: "me" });
      expect(secret.metadata?.ownerReferences).toBeUndefined();
      await world.clients.secrets(world.vaultUri).setSecret("color", `green-${release}`);
      await world.kube.cluster(world.clusterName)?.rotateSecretsNow();
      // pkg/rotation/reconciler.go patchSecret gets the Secret from the same cache: not found, and after
      // the back-off the reconciler records SecretRotationFailed.
      const failed = await waitFor("SecretRotationFailed", async () => {
        const list = await world.core.listNamespacedEvent({
          namespace: ns,
          fieldSelector: "reason=SecretRotationFailed",
        });
        return list.items[0];
      });
      expect(failed.message).toBe(
        "failed to patch secret keyvault-secrets with new data, err: timed out waiting for the condition",
      );
      const after = await world.core.readNamespacedSecret({ name: "keyvault-secrets", namespace: ns });
      expect(decoded(after, "color")).toBe("mine");
      // Deleting the workload leaves the user's Secret: nothing made it a dependent.
      await world.apps.deleteNamespacedDeployment({ name: "podinfo-csi", namespace: ns });
      await waitFor("the pods gone", async () => {
        const pods = await world.core.listNamespacedPod({ namespace: ns, labelSelector: "app=podinfo" });
        return pods.items.length === 0;
      });
      const kept = await world.core.readNamespacedSecret({ name: "keyvault-secrets", namespace: ns });
      expect(decoded(kept, "color")).toBe("mine");
    } else {
      // v1.6.0 createOrUpdateK8sSecret: on AlreadyExists it Updates the Secret with the class's labels
      // and data; labelled, it is in the cache and the patcher makes the ReplicaSet its owner.
      expect(decoded(secret, "color")).not.toBe("mine");
      expect(secret.metadata?.labels).toEqual({ "secrets-store.csi.k8s.io/managed": "true" });
      await waitFor("the ReplicaSet as owner", async () => {
        const s = await world.core.readNamespacedSecret({ name: "keyvault-secrets", namespace: ns });
        return s.metadata?.ownerReferences?.some((r) => r.kind === "ReplicaSet");
      });
    }
  });

  it("rotates without rotation events, on the first republish after rotationPollInterval under 1.6 (gap 7)", async () => {
    const ns = `rotate-${release.replace(".", "")}`;
    await deploy(ns);
    const [pod] = await waitFor("a ready pod", async () => {
      const ready = await readyPods(ns);
      return ready.length === 1 ? ready : undefined;
    });
    const name = pod?.metadata?.name ?? "";
    const mountedAt = new Date((await podStatus(ns, name)).metadata?.creationTimestamp ?? 0).getTime();
    const written = await world.clients.secrets(world.vaultUri).setSecret("color", `purple-${release}`);
    const version = written.properties.version ?? "";
    await waitFor(
      "the pod status to name the new version",
      async () =>
        (await podStatus(ns, name)).status.objects.some(
          (o) => o.id === "secret/color" && o.version === version,
        ),
      30_000,
    );
    const seenAt = await emulatedNow(ns);
    await waitFor("the synced Secret", async () => {
      const s = await world.core.readNamespacedSecret({ name: "keyvault-secrets", namespace: ns });
      return decoded(s, "color") === `purple-${release}`;
    });
    const reasons = (await world.core.listNamespacedEvent({ namespace: ns })).items.map(
      (e) => e.reason ?? "",
    );
    if (release === "1.6") {
      // pkg/secrets-store/nodeserver.go: a republish within rotationCacheDuration (the poll interval, 3m)
      // of the target path's last write is skipped; the kubelet republishes on every pod sync
      // (60-90 s). No reconciler, so no rotation events.
      expect(seenAt - mountedAt).toBeGreaterThanOrEqual(180_000);
      expect(reasons.filter((r) => r.includes("Rotation"))).toEqual([]);
      expect(world.kube.cluster(world.clusterName)?.inventory().csi).toMatchObject({
        driver: "1.6",
        rotationPasses: 0,
      });
    } else {
      expect(reasons).toEqual(expect.arrayContaining(["MountRotationComplete", "SecretRotationComplete"]));
    }
  });
});
