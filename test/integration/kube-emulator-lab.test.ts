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

// The lab's chain end to end: Azure set up through the Azure SDKs against the Azure emulator, the
// cluster driven through client-node with the kubeconfig of listClusterUserCredential, under both
// releases of the Secrets Store CSI driver the emulator models.

const TIME_SCALE = 2000;
const NS = "secret-lab";
const RELEASES: CsiDriverRelease[] = ["1.5", "1.6"];

describe.each(RELEASES)("with the CSI driver %s", (release) => {
  let world: LabWorld;
  let mi: Identity;

  function workloadValues(identity: Identity): Record<string, string> {
    return {
      MI_CLIENT_ID: identity.clientId,
      KEYVAULT_NAME: world.vaultName,
      TENANT_ID: world.azure.tenantId,
      REPLICAS: "2",
    };
  }

  function cluster() {
    const c = world.kube.cluster(world.clusterName);
    if (!c) throw new Error("the AKS emulator does not know the lab cluster");
    return c;
  }

  async function podEnv(namespace: string, pod: string): Promise<string[]> {
    const out: unknown = await world.core.connectGetNamespacedPodProxyWithPath({
      name: `${pod}:9898`,
      namespace,
      path: "env",
    });
    // podinfo answers JSON; client-node hands back the parsed array although it types it as a string.
    return (typeof out === "string" ? JSON.parse(out) : out) as string[];
  }

  async function readyPods(namespace: string, selector: string): Promise<k8s.V1Pod[]> {
    const list = await world.core.listNamespacedPod({ namespace, labelSelector: selector });
    return list.items.filter(
      (p) =>
        p.metadata?.deletionTimestamp === undefined &&
        p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    );
  }

  beforeAll(async () => {
    world = await startLabWorld(TIME_SCALE, `chain${release.replace(".", "")}`, { csiDriver: release });
    mi = await createIdentity(world, "lab-chain-mi", `system:serviceaccount:${NS}:secret-lab-sa`, true);
    await applyAll(world, await renderLabManifest("reloader.yaml", {}));
    await applyAll(world, await renderLabManifest("workload.yaml", workloadValues(mi)));
  });

  afterAll(async () => {
    await world?.stop();
  });

  describe("the lab chain", () => {
    it("runs Reloader and podinfo with env from the vault, mounted through workload identity", async () => {
      await waitFor("Reloader to be available", async () => {
        const d = await world.apps.readNamespacedDeployment({
          name: "reloader-reloader",
          namespace: "reloader",
        });
        return d.status?.conditions?.some((c) => c.type === "Available" && c.status === "True");
      });
      const pods = await waitFor(
        "two ready podinfo pods",
        async () => {
          const ready = await readyPods(NS, "app=podinfo");
          return ready.length === 2 ? ready : undefined;
        },
        30_000,
      );
      const secrets = world.clients.secrets(world.vaultUri);
      const color = await secrets.getSecret("color");
      const db = await secrets.getSecret("db-connection-string");
      for (const pod of pods) {
        const name = pod.metadata?.name ?? "";
        const env = await podEnv(NS, name);
        expect(env).toContain("PODINFO_UI_COLOR=blue");
        expect(env).toContain(`DB_CONNECTION_STRING=${db.value}`);
        // The workload identity webhook injected the client id from the service account.
        expect(env).toContain(`AZURE_CLIENT_ID=${mi.clientId}`);
        const status = (await world.objects.read({
          apiVersion: "secrets-store.csi.x-k8s.io/v1",
          kind: "SecretProviderClassPodStatus",
          metadata: { name: `${name}-${NS}-azure-keyvault-secrets`, namespace: NS },
        })) as k8s.KubernetesObject & {
          status: { mounted: boolean; podName: string; objects: { id: string; version: string }[] };
        };
        expect(status.status.mounted).toBe(true);
        expect(status.status.podName).toBe(name);
        expect(status.status.objects).toEqual([
          { id: "secret/color", version: color.properties.version },
          { id: "secret/db-connection-string", version: db.properties.version },
        ]);
        expect(cluster().podMounts(NS, name)?.["secrets-store"]?.color).toBe("blue");
      }
      const synced = await world.core.readNamespacedSecret({ name: "keyvault-secrets", namespace: NS });
      expect(synced.metadata?.labels?.["secrets-store.csi.k8s.io/managed"]).toBe("true");
      expect(Buffer.from(synced.data?.color ?? "", "base64").toString()).toBe("blue");
      // The driver's patcher makes the pods' ReplicaSet an owner of the synced Secret.
      await waitFor("the synced Secret's owner", async () => {
        const s = await world.core.readNamespacedSecret({ name: "keyvault-secrets", namespace: NS });
        return s.metadata?.ownerReferences?.some((r) => r.kind === "ReplicaSet");
      });
    });

    it("follows a new vault version through the synced Secret and Reloader to new ready pods", async () => {
      await waitFor("the first pods", async () => (await readyPods(NS, "app=podinfo")).length === 2, 30_000);
      const before = await world.apps.readNamespacedDeployment({ name: "podinfo-csi", namespace: NS });
      const revisionBefore = Number(
        before.metadata?.annotations?.["deployment.kubernetes.io/revision"] ?? "0",
      );

      await world.clients.secrets(world.vaultUri).setSecret("color", "orange");
      const passesAtSet = cluster().inventory().csi.rotationPasses;

      await waitFor(
        "the synced Secret to change",
        async () => {
          const s = await world.core.readNamespacedSecret({ name: "keyvault-secrets", namespace: NS });
          return Buffer.from(s.data?.color ?? "", "base64").toString() === "orange";
        },
        30_000,
      );
      if (release === "1.5") {
        // Within one poll interval: the first rotation pass started after the write saw the new version.
        const detectedIn = cluster().inventory().csi.lastMountRotationPass;
        expect(detectedIn).toBeGreaterThan(0);
        expect(detectedIn).toBeLessThanOrEqual(passesAtSet + 1);
      } else {
        // 1.6 has no reconciler: the kubelet's republish re-fetched and rewrote the mount.
        expect(cluster().inventory().csi.rotationPasses).toBe(0);
        expect(cluster().inventory().csi.mountRotations).toBeGreaterThan(0);
      }

      const rolled = await waitFor(
        "Reloader's rollout to complete",
        async () => {
          const d = await world.apps.readNamespacedDeployment({ name: "podinfo-csi", namespace: NS });
          const s = d.status;
          const revision = Number(d.metadata?.annotations?.["deployment.kubernetes.io/revision"] ?? "0");
          const done =
            revision > revisionBefore &&
            s?.observedGeneration === d.metadata?.generation &&
            s?.updatedReplicas === 2 &&
            s?.availableReplicas === 2 &&
            s?.replicas === 2;
          return done ? d : undefined;
        },
        30_000,
      );
      const reloadedFrom =
        rolled.spec?.template.metadata?.annotations?.["reloader.stakater.com/last-reloaded-from"];
      expect(JSON.parse(reloadedFrom ?? "{}")).toMatchObject({
        type: "SECRET",
        name: "keyvault-secrets",
        namespace: NS,
        containerRefs: ["podinfo"],
      });
      const pods = await waitFor("only new pods left", async () => {
        const all = await world.core.listNamespacedPod({ namespace: NS, labelSelector: "app=podinfo" });
        const ready = await readyPods(NS, "app=podinfo");
        return all.items.length === 2 && ready.length === 2 ? ready : undefined;
      });
      for (const pod of pods) {
        expect(await podEnv(NS, pod.metadata?.name ?? "")).toContain("PODINFO_UI_COLOR=orange");
      }
      const events = await world.core.listNamespacedEvent({ namespace: NS });
      const reasons = events.items.map((e) => e.reason);
      if (release === "1.5") {
        expect(reasons).toEqual(
          expect.arrayContaining(["Reloaded", "MountRotationComplete", "SecretRotationComplete"]),
        );
      } else {
        // v1.6.0 removed pkg/rotation and with it every rotation event.
        expect(reasons).toContain("Reloaded");
        expect(reasons.filter((r) => r?.includes("Rotation"))).toEqual([]);
      }
      const reloaded = events.items.find((e) => e.reason === "Reloaded");
      expect(reloaded?.message).toBe(
        `Changes detected in 'keyvault-secrets' of type 'SECRET' in namespace '${NS}', Updated 'podinfo-csi' of type 'Deployment' in namespace '${NS}'`,
      );
      expect(cluster().inventory().reloads).toBeGreaterThanOrEqual(1);
    });
  });

  describe("mounts that cannot work", () => {
    async function failedMount(namespace: string): Promise<string> {
      const event = await waitFor(
        `a FailedMount in ${namespace}`,
        async () => {
          const list = await world.core.listNamespacedEvent({
            namespace,
            fieldSelector: "reason=FailedMount",
          });
          return list.items.find((e) => e.message?.includes("secrets-store"));
        },
        30_000,
      );
      const pods = await world.core.listNamespacedPod({ namespace, labelSelector: "app=podinfo" });
      expect(pods.items.length).toBeGreaterThan(0);
      for (const p of pods.items) {
        expect(p.status?.phase).toBe("Pending");
        expect(p.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe("ContainerCreating");
      }
      return event.message ?? "";
    }

    it("names AADSTS70021 when the federated credential's subject does not match", async () => {
      const ns = "wrong-subject";
      const typo = await createIdentity(
        world,
        "lab-typo-mi",
        `system:serviceaccount:${ns}:secretlab-sa`,
        true,
      );
      await applyAll(world, inNamespace(await renderLabManifest("workload.yaml", workloadValues(typo)), ns));
      const message = await failedMount(ns);
      expect(message).toContain('MountVolume.SetUp failed for volume "secrets-store"');
      expect(message).toContain("AADSTS70021");
      expect(message).toContain(`system:serviceaccount:${ns}:secret-lab-sa`);
    });

    it("names ForbiddenByRbac when the identity holds no role on the vault", async () => {
      const ns = "no-role";
      const norole = await createIdentity(
        world,
        "lab-norole-mi",
        `system:serviceaccount:${ns}:secret-lab-sa`,
        false,
      );
      await applyAll(
        world,
        inNamespace(await renderLabManifest("workload.yaml", workloadValues(norole)), ns),
      );
      const message = await failedMount(ns);
      expect(message).toContain("403");
      expect(message).toContain("ForbiddenByRbac");
    });
  });
});
