import { createHash } from "node:crypto";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectApiError, type KubeTestBed, startKubeTestBed, waitFor } from "./helpers/kube.ts";
import { applyAll, renderLabManifest } from "./helpers/lab.ts";

// Deployments, the kubelet and Reloader on the AKS emulator, driven through client-node.

let bed: KubeTestBed;
const strategic = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch);

beforeAll(async () => {
  bed = await startKubeTestBed();
});

afterAll(async () => {
  await bed?.stop();
});

function podinfo(
  name: string,
  namespace: string,
  replicas: number,
  env: k8s.V1EnvVar[] = [],
  annotations: Record<string, string> = {},
): k8s.V1Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, annotations },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: "podinfo",
              image: "ghcr.io/stefanprodan/podinfo:6.7.1",
              ports: [{ name: "http", containerPort: 9898 }],
              env,
              readinessProbe: { httpGet: { path: "/readyz", port: "http" } },
            },
          ],
        },
      },
    },
  };
}

async function namespace(name: string): Promise<void> {
  await bed.core.createNamespace({ body: { metadata: { name } } });
}

function isReady(p: k8s.V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
}

async function rolledOut(name: string, ns: string, replicas: number): Promise<k8s.V1Deployment | undefined> {
  const d = await bed.apps.readNamespacedDeployment({ name, namespace: ns });
  const s = d.status;
  const done =
    s?.observedGeneration === d.metadata?.generation &&
    s?.updatedReplicas === replicas &&
    s?.replicas === replicas &&
    s?.availableReplicas === replicas;
  return done ? d : undefined;
}

async function envOf(ns: string, pod: string): Promise<string[]> {
  const out: unknown = await bed.core.connectGetNamespacedPodProxyWithPath({
    name: `${pod}:9898`,
    namespace: ns,
    path: "env",
  });
  return (typeof out === "string" ? JSON.parse(out) : out) as string[];
}

describe("deployment controller", () => {
  it("rolls a new template out within the default surge and unavailability", async () => {
    const ns = "rollout";
    await namespace(ns);
    await bed.apps.createNamespacedDeployment({ namespace: ns, body: podinfo("web", ns, 4) });
    await waitFor("the first rollout", () => rolledOut("web", ns, 4));

    // Track pods through a watch: at no point may fewer than 3 be ready, nor more than 5 be running.
    const pods = new Map<string, k8s.V1Pod>();
    let minReady = Number.POSITIVE_INFINITY;
    let maxLive = 0;
    const list = await bed.core.listNamespacedPod({ namespace: ns, labelSelector: "app=web" });
    for (const p of list.items) pods.set(p.metadata?.name ?? "", p);
    const watch = new k8s.Watch(bed.kc);
    const ctrl = await watch.watch(
      `/api/v1/namespaces/${ns}/pods`,
      { resourceVersion: list.metadata?.resourceVersion, labelSelector: "app=web" },
      (type, p: k8s.V1Pod) => {
        if (type === "DELETED") pods.delete(p.metadata?.name ?? "");
        else pods.set(p.metadata?.name ?? "", p);
        const live = [...pods.values()].filter((x) => x.metadata?.deletionTimestamp === undefined);
        minReady = Math.min(minReady, live.filter(isReady).length);
        maxLive = Math.max(maxLive, live.length);
      },
      () => {},
    );
    await bed.apps.patchNamespacedDeployment(
      {
        name: "web",
        namespace: ns,
        body: {
          spec: {
            template: {
              spec: { containers: [{ name: "podinfo", image: "ghcr.io/stefanprodan/podinfo:6.7.2" }] },
            },
          },
        },
      },
      strategic,
    );
    const done = await waitFor("the second rollout", async () => {
      const d = await rolledOut("web", ns, 4);
      return d?.metadata?.annotations?.["deployment.kubernetes.io/revision"] === "2" ? d : undefined;
    });
    await waitFor("the old pods to go", () => pods.size === 4);
    ctrl.abort();

    expect(minReady).toBeGreaterThanOrEqual(3);
    expect(maxLive).toBeLessThanOrEqual(5);
    expect(done.spec?.strategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" },
    });
    const progressing = done.status?.conditions?.find((c) => c.type === "Progressing");
    expect(progressing?.reason).toBe("NewReplicaSetAvailable");
    const available = done.status?.conditions?.find((c) => c.type === "Available");
    expect(available).toMatchObject({ status: "True", reason: "MinimumReplicasAvailable" });

    const sets = await bed.apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: "app=web" });
    expect(sets.items).toHaveLength(2);
    const [newRs] = sets.items.filter(
      (rs) => rs.metadata?.annotations?.["deployment.kubernetes.io/revision"] === "2",
    );
    const [oldRs] = sets.items.filter(
      (rs) => rs.metadata?.annotations?.["deployment.kubernetes.io/revision"] === "1",
    );
    expect(newRs?.spec?.replicas).toBe(4);
    expect(oldRs?.spec?.replicas).toBe(0);
    const hash = newRs?.metadata?.labels?.["pod-template-hash"] ?? "";
    expect(newRs?.metadata?.name).toBe(`web-${hash}`);
    expect(newRs?.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: "Deployment",
      name: "web",
      controller: true,
    });
    for (const p of pods.values()) expect(p.metadata?.labels?.["pod-template-hash"]).toBe(hash);

    const events = await bed.core.listNamespacedEvent({
      namespace: ns,
      fieldSelector: "involvedObject.name=web",
    });
    const messages = events.items.map((e) => e.message ?? "");
    expect(messages).toContain(`Scaled up replica set ${newRs?.metadata?.name} to 1 from 0`);
    expect(messages.some((m) => m.startsWith(`Scaled down replica set ${oldRs?.metadata?.name} to `))).toBe(
      true,
    );
  });
});

describe("kubelet", () => {
  it("reports CreateContainerConfigError for a missing Secret and starts the container once it exists", async () => {
    const ns = "config-error";
    await namespace(ns);
    const env = [{ name: "PODINFO_UI_COLOR", valueFrom: { secretKeyRef: { name: "late", key: "color" } } }];
    await bed.apps.createNamespacedDeployment({ namespace: ns, body: podinfo("late", ns, 1, env) });
    const waiting = await waitFor("CreateContainerConfigError", async () => {
      const pods = await bed.core.listNamespacedPod({ namespace: ns });
      const state = pods.items[0]?.status?.containerStatuses?.[0]?.state?.waiting;
      return state?.reason === "CreateContainerConfigError" ? state : undefined;
    });
    expect(waiting.message).toBe('secret "late" not found');
    const failed = await bed.core.listNamespacedEvent({ namespace: ns, fieldSelector: "reason=Failed" });
    expect(failed.items[0]?.message).toBe('Error: secret "late" not found');
    expect(failed.items[0]?.involvedObject.fieldPath).toBe("spec.containers{podinfo}");

    await bed.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: "late" }, stringData: { color: "teal" } },
    });
    const pod = await waitFor(
      "the pod to become ready",
      async () => {
        const pods = await bed.core.listNamespacedPod({ namespace: ns });
        return pods.items.find(isReady);
      },
      20_000,
    );
    expect(await envOf(ns, pod.metadata?.name ?? "")).toContain("PODINFO_UI_COLOR=teal");
  });

  it("crash-loops a container on demand, with back-off and restart counts", async () => {
    const ns = "crashing";
    await namespace(ns);
    const stopCrashing = bed.cluster.crashLoop({ namespace: ns, env: { name: "MODE", value: "broken" } });
    try {
      await bed.apps.createNamespacedDeployment({
        namespace: ns,
        body: podinfo("flaky", ns, 1, [{ name: "MODE", value: "broken" }]),
      });
      const status = await waitFor(
        "a CrashLoopBackOff with restarts",
        async () => {
          const pods = await bed.core.listNamespacedPod({ namespace: ns });
          const c = pods.items[0]?.status?.containerStatuses?.[0];
          return c?.state?.waiting?.reason === "CrashLoopBackOff" && c.restartCount >= 2 ? c : undefined;
        },
        20_000,
      );
      expect(status.ready).toBe(false);
      expect(status.lastState?.terminated).toMatchObject({ exitCode: 1, reason: "Error" });
      expect(status.state?.waiting?.message).toMatch(
        /^back-off \d+.* restarting failed container=podinfo pod=flaky-/,
      );
      const backOff = await bed.core.listNamespacedEvent({ namespace: ns, fieldSelector: "reason=BackOff" });
      expect(backOff.items[0]?.message).toMatch(
        /^Back-off restarting failed container podinfo in pod flaky-/,
      );
      const d = await bed.apps.readNamespacedDeployment({ name: "flaky", namespace: ns });
      expect(d.status?.availableReplicas ?? 0).toBe(0);
    } finally {
      stopCrashing();
    }
    await waitFor("the container to recover", async () => rolledOut("flaky", ns, 1), 20_000);
    expect(bed.cluster.inventory().restarts).toBeGreaterThanOrEqual(2);
  });

  it("refuses pods/proxy to a port nothing listens on, like the real proxy", async () => {
    const ns = "proxied";
    await namespace(ns);
    await bed.apps.createNamespacedDeployment({ namespace: ns, body: podinfo("px", ns, 1) });
    await waitFor("the pod", () => rolledOut("px", ns, 1));
    const pods = await bed.core.listNamespacedPod({ namespace: ns });
    const name = pods.items[0]?.metadata?.name ?? "";
    const refused = await expectApiError(
      bed.core.connectGetNamespacedPodProxyWithPath({ name, namespace: ns, path: "env" }),
    );
    expect(refused.code).toBe(503);
    expect(refused.status.message).toMatch(/dial tcp 10\.244\.\d+\.\d+:80: connect: connection refused/);
    const health: unknown = await bed.core.connectGetNamespacedPodProxyWithPath({
      name: `${name}:9898`,
      namespace: ns,
      path: "healthz",
    });
    expect(health).toEqual({ status: "OK" });
  });
});

describe("Reloader", () => {
  async function setColor(ns: string, color: string): Promise<void> {
    await bed.core.patchNamespacedSecret(
      { name: "app-config", namespace: ns, body: { stringData: { color } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
  }

  it("rolls annotated deployments when a referenced Secret changes, and stops when Reloader is gone", async () => {
    const ns = "reloaded";
    await namespace(ns);
    await applyAll(bed, await renderLabManifest("reloader.yaml", {}));
    await waitFor("Reloader", () => rolledOut("reloader-reloader", "reloader", 1));
    await bed.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: "app-config" }, stringData: { color: "blue" } },
    });
    const env = [
      { name: "PODINFO_UI_COLOR", valueFrom: { secretKeyRef: { name: "app-config", key: "color" } } },
    ];
    await bed.apps.createNamespacedDeployment({
      namespace: ns,
      body: podinfo("auto", ns, 1, env, { "reloader.stakater.com/auto": "true" }),
    });
    await bed.apps.createNamespacedDeployment({
      namespace: ns,
      body: podinfo("explicit", ns, 1, [], { "secret.reloader.stakater.com/reload": "app-.*" }),
    });
    await bed.apps.createNamespacedDeployment({ namespace: ns, body: podinfo("unannotated", ns, 1, env) });
    for (const n of ["auto", "explicit", "unannotated"]) await waitFor(n, () => rolledOut(n, ns, 1));

    await setColor(ns, "orange");
    const auto = await waitFor("the auto deployment to roll", async () => {
      const d = await rolledOut("auto", ns, 1);
      return d?.metadata?.annotations?.["deployment.kubernetes.io/revision"] === "2" ? d : undefined;
    });
    // --reload-strategy=annotations (infra/lab/reloader.yaml): the pod template carries the source.
    const from = JSON.parse(
      auto.spec?.template.metadata?.annotations?.["reloader.stakater.com/last-reloaded-from"] ?? "{}",
    );
    expect(from).toMatchObject({
      type: "SECRET",
      name: "app-config",
      namespace: ns,
      containerRefs: ["podinfo"],
    });
    expect(from.hash).toMatch(/^[0-9a-f]{40}$/);
    await waitFor("the explicit deployment to roll", async () => {
      const d = await rolledOut("explicit", ns, 1);
      return d?.metadata?.annotations?.["deployment.kubernetes.io/revision"] === "2";
    });
    const pods = await bed.core.listNamespacedPod({ namespace: ns, labelSelector: "app=auto" });
    const live = pods.items.filter((p) => p.metadata?.deletionTimestamp === undefined && isReady(p));
    expect(await envOf(ns, live[0]?.metadata?.name ?? "")).toContain("PODINFO_UI_COLOR=orange");
    const unannotated = await bed.apps.readNamespacedDeployment({ name: "unannotated", namespace: ns });
    expect(unannotated.metadata?.annotations?.["deployment.kubernetes.io/revision"]).toBe("1");

    await bed.apps.deleteNamespacedDeployment({ name: "reloader-reloader", namespace: "reloader" });
    await waitFor("Reloader to be gone", () => bed.cluster.inventory().reloaderActive === false);
    const reloadsBefore = bed.cluster.inventory().reloads;
    await setColor(ns, "green");
    // Nothing rolls any more: the next thing to happen in the cluster is this scale, and the revision stays.
    await bed.apps.patchNamespacedDeployment(
      { name: "auto", namespace: ns, body: { spec: { replicas: 2 } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    const after = await waitFor("the scale", () => rolledOut("auto", ns, 2));
    expect(after.metadata?.annotations?.["deployment.kubernetes.io/revision"]).toBe("2");
    expect(bed.cluster.inventory().reloads).toBe(reloadsBefore);
  });

  it("uses the env-vars strategy when Reloader runs without --reload-strategy", async () => {
    const ns = "reloaded-env";
    await namespace(ns);
    const manifest = await renderLabManifest("reloader.yaml", {});
    for (const o of manifest) {
      if (o.kind !== "Deployment") continue;
      const container = (o as k8s.V1Deployment).spec?.template.spec?.containers[0];
      if (container) container.args = ["--log-format=json"];
    }
    await applyAll(bed, manifest);
    await waitFor("Reloader", () => rolledOut("reloader-reloader", "reloader", 1));
    await waitFor("Reloader to be active", () => bed.cluster.inventory().reloaderActive);
    await bed.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: "app-config" }, stringData: { color: "blue" } },
    });
    const env = [
      { name: "PODINFO_UI_COLOR", valueFrom: { secretKeyRef: { name: "app-config", key: "color" } } },
    ];
    await bed.apps.createNamespacedDeployment({
      namespace: ns,
      body: podinfo("envvars", ns, 1, env, { "reloader.stakater.com/auto": "true" }),
    });
    await waitFor("envvars", () => rolledOut("envvars", ns, 1));
    await setColor(ns, "orange");
    const rolled = await waitFor("the rollout", async () => {
      const d = await rolledOut("envvars", ns, 1);
      return d?.metadata?.annotations?.["deployment.kubernetes.io/revision"] === "2" ? d : undefined;
    });
    const container = rolled.spec?.template.spec?.containers[0];
    // SHA-1 of the sorted key=value pairs joined by ";", as Reloader hashes a Secret's data.
    const sha = createHash("sha1").update("color=orange").digest("hex");
    expect(container?.env).toContainEqual({ name: "STAKATER_APP_CONFIG_SECRET", value: sha });
    expect(
      rolled.spec?.template.metadata?.annotations?.["reloader.stakater.com/last-reloaded-from"],
    ).toBeUndefined();
  });
});

describe("the Key Vault secrets provider addon", () => {
  it("is absent until the cluster update enables it, then serves the CRDs and runs the driver", async () => {
    const ns = "addon";
    await namespace(ns);
    const spc = {
      apiVersion: "secrets-store.csi.x-k8s.io/v1",
      kind: "SecretProviderClass",
      metadata: { name: "kv", namespace: ns },
      spec: {
        provider: "azure",
        parameters: { keyvaultName: "kv-none", tenantId: bed.world.tenantId, objects: "array: []" },
      },
    };
    // Without the addon there are no CSI CRDs: client-node cannot even resolve the kind.
    await expect(bed.objects.create(spc)).rejects.toThrow(
      /Failed to fetch resource metadata for secrets-store.csi.x-k8s.io\/v1\/SecretProviderClass/,
    );

    const deployment = podinfo("csi", ns, 1);
    const podSpec = deployment.spec?.template.spec;
    if (!podSpec) throw new Error("no pod spec");
    podSpec.volumes = [
      {
        name: "secrets-store",
        csi: {
          driver: "secrets-store.csi.k8s.io",
          readOnly: true,
          volumeAttributes: { secretProviderClass: "kv" },
        },
      },
    ];
    const container = podSpec.containers[0];
    if (!container) throw new Error("no container");
    container.volumeMounts = [{ name: "secrets-store", mountPath: "/mnt/secrets-store", readOnly: true }];
    await bed.apps.createNamespacedDeployment({ namespace: ns, body: deployment });
    const noDriver = await waitFor("a FailedMount for the missing driver", async () => {
      const list = await bed.core.listNamespacedEvent({ namespace: ns, fieldSelector: "reason=FailedMount" });
      return list.items[0]?.message;
    });
    expect(noDriver).toBe(
      'MountVolume.SetUp failed for volume "secrets-store" : kubernetes.io/csi: mounter.SetUpAt failed to get CSI client: driver name secrets-store.csi.k8s.io not found in the list of registered CSI drivers',
    );

    const info = bed.world.clusters()[0];
    if (!info) throw new Error("no cluster");
    bed.world.updateCluster({
      ...info,
      keyVaultAddon: { enabled: true, enableSecretRotation: true, rotationPollInterval: "2m" },
    });
    await waitFor("the driver pods", async () => {
      const pods = await bed.core.listNamespacedPod({
        namespace: "kube-system",
        labelSelector: "app=secrets-store-csi-driver",
      });
      return pods.items.length === 2 && pods.items.every(isReady);
    });
    await bed.objects.create(spc);
    // The driver now reaches the provider, which finds no such vault in this Azure.
    const fromProvider = await waitFor("a FailedMount from the provider", async () => {
      const list = await bed.core.listNamespacedEvent({ namespace: ns, fieldSelector: "reason=FailedMount" });
      return list.items
        .map((e) => e.message ?? "")
        .find((m) => m.includes("failed to mount secrets store objects"));
    });
    expect(fromProvider).toContain(`failed to mount secrets store objects for pod ${ns}/csi-`);
    expect(bed.cluster.inventory().csi).toMatchObject({
      enabled: true,
      rotation: true,
      rotationPollInterval: "2m",
    });
  });
});
