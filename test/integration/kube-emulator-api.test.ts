import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectApiError, type KubeTestBed, startKubeTestBed, waitFor } from "./helpers/kube.ts";

// The API server of the AKS emulator, driven only through @kubernetes/client-node.

let bed: KubeTestBed;

beforeAll(async () => {
  bed = await startKubeTestBed();
  await bed.core.createNamespace({ body: { metadata: { name: "crud" } } });
});

afterAll(async () => {
  await bed?.stop();
});

const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);
const strategic = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch);

function webDeployment(name: string, labels: Record<string, string> = { app: name }): k8s.V1Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "crud" },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            { name: "web", image: "ghcr.io/stefanprodan/podinfo:6.7.1", env: [{ name: "A", value: "1" }] },
            { name: "sidecar", image: "busybox:1.36" },
          ],
        },
      },
    },
  };
}

describe("discovery", () => {
  it("lists the core and group versions with their resources", async () => {
    const version = await bed.kc.makeApiClient(k8s.VersionApi).getCode();
    expect(version.gitVersion).toBe("v1.33.2");
    const groups = await bed.kc.makeApiClient(k8s.ApisApi).getAPIVersions();
    const names = groups.groups.map((g) => g.name);
    expect(names).toEqual(expect.arrayContaining(["apps", "events.k8s.io", "rbac.authorization.k8s.io"]));
    // The CSI CRDs come with the Key Vault addon, which this cluster does not have.
    expect(names).not.toContain("secrets-store.csi.x-k8s.io");
    const core = await bed.kc.makeApiClient(k8s.CoreV1Api).getAPIResources();
    const pods = core.resources.find((r) => r.name === "pods");
    expect(pods).toMatchObject({ kind: "Pod", namespaced: true, shortNames: ["po"] });
    expect(core.resources.map((r) => r.name)).toEqual(
      expect.arrayContaining(["pods/proxy", "pods/status", "secrets"]),
    );
  });

  it("lets KubernetesObjectApi resolve kinds to paths", async () => {
    const created = await bed.objects.create({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "reader", namespace: "crud" },
      rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }],
    } as k8s.KubernetesObject);
    expect(created.metadata?.uid).toBeTruthy();
    const read = await bed.objects.read({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "reader", namespace: "crud" },
    });
    expect((read as k8s.V1Role).rules?.[0]?.verbs).toEqual(["get"]);
  });
});

describe("CRUD", () => {
  it("creates, reads, lists with selectors, replaces with optimistic concurrency and deletes", async () => {
    const cm = await bed.core.createNamespacedConfigMap({
      namespace: "crud",
      body: { metadata: { name: "settings", labels: { tier: "web" } }, data: { color: "blue" } },
    });
    const rv1 = cm.metadata?.resourceVersion ?? "";
    expect(Number(rv1)).toBeGreaterThan(0);
    await bed.core.createNamespacedConfigMap({
      namespace: "crud",
      body: { metadata: { name: "other", labels: { tier: "db" } }, data: {} },
    });

    const byLabel = await bed.core.listNamespacedConfigMap({
      namespace: "crud",
      labelSelector: "tier in (web,api)",
    });
    expect(byLabel.items.map((i) => i.metadata?.name)).toEqual(["settings"]);
    const byField = await bed.core.listNamespacedConfigMap({
      namespace: "crud",
      fieldSelector: "metadata.name!=settings",
    });
    expect(byField.items.map((i) => i.metadata?.name)).toContain("other");
    expect(byField.items.map((i) => i.metadata?.name)).not.toContain("settings");
    expect(Number(byField.metadata?.resourceVersion)).toBeGreaterThanOrEqual(Number(rv1));

    const updated = await bed.core.replaceNamespacedConfigMap({
      name: "settings",
      namespace: "crud",
      body: { metadata: { name: "settings", resourceVersion: rv1 }, data: { color: "orange" } },
    });
    expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(Number(rv1));

    const stale = await expectApiError(
      bed.core.replaceNamespacedConfigMap({
        name: "settings",
        namespace: "crud",
        body: { metadata: { name: "settings", resourceVersion: rv1 }, data: { color: "green" } },
      }),
    );
    expect(stale.code).toBe(409);
    expect(stale.status.reason).toBe("Conflict");
    expect(stale.status.message).toContain("the object has been modified");

    const dup = await expectApiError(
      bed.core.createNamespacedConfigMap({ namespace: "crud", body: { metadata: { name: "settings" } } }),
    );
    expect(dup).toMatchObject({ code: 409, status: { reason: "AlreadyExists" } });

    const status = await bed.core.deleteNamespacedConfigMap({ name: "settings", namespace: "crud" });
    expect(status.status).toBe("Success");
    const gone = await expectApiError(
      bed.core.readNamespacedConfigMap({ name: "settings", namespace: "crud" }),
    );
    expect(gone).toMatchObject({
      code: 404,
      status: { reason: "NotFound", message: 'configmaps "settings" not found' },
    });
  });

  it("refuses an invalid object with 422 and the causes", async () => {
    const bad = webDeployment("mismatch", { app: "something-else" });
    const err = await expectApiError(bed.apps.createNamespacedDeployment({ namespace: "crud", body: bad }));
    expect(err.code).toBe(422);
    expect(err.status.reason).toBe("Invalid");
    expect(err.status.message).toContain('Deployment.apps "mismatch" is invalid');
    expect(err.status.details?.causes?.[0]).toMatchObject({
      reason: "FieldValueInvalid",
      field: "spec.template.metadata.labels",
    });
  });

  it("turns stringData into base64 data", async () => {
    const s = await bed.core.createNamespacedSecret({
      namespace: "crud",
      body: { metadata: { name: "creds" }, stringData: { password: "hunter2" } },
    });
    expect(s.type).toBe("Opaque");
    expect(s.data?.password).toBe(Buffer.from("hunter2").toString("base64"));
  });
});

describe("patches", () => {
  it("applies merge, JSON and strategic merge patches", async () => {
    await bed.apps.createNamespacedDeployment({ namespace: "crud", body: webDeployment("patched") });

    const merged = await bed.apps.patchNamespacedDeployment(
      { name: "patched", namespace: "crud", body: { metadata: { labels: { team: "a" } } } },
      merge,
    );
    expect(merged.metadata?.labels).toEqual({ team: "a" });

    const json = await bed.apps.patchNamespacedDeployment({
      name: "patched",
      namespace: "crud",
      body: [{ op: "replace", path: "/spec/replicas", value: 0 }],
    });
    expect(json.spec?.replicas).toBe(0);
    expect(json.metadata?.generation).toBe(2);

    // Strategic merge: containers and env merge by name; the sidecar stays.
    const smp = await bed.apps.patchNamespacedDeployment(
      {
        name: "patched",
        namespace: "crud",
        body: {
          spec: { template: { spec: { containers: [{ name: "web", env: [{ name: "B", value: "2" }] }] } } },
        },
      },
      strategic,
    );
    const containers = smp.spec?.template.spec?.containers ?? [];
    expect(containers.map((c) => c.name)).toEqual(["web", "sidecar"]);
    expect(containers[0]?.env?.map((e) => e.name)).toEqual(["A", "B"]);
    expect(containers[0]?.image).toBe("ghcr.io/stefanprodan/podinfo:6.7.1");

    const deleteOne = await bed.apps.patchNamespacedDeployment(
      {
        name: "patched",
        namespace: "crud",
        body: { spec: { template: { spec: { containers: [{ name: "sidecar", $patch: "delete" }] } } } },
      },
      strategic,
    );
    expect(deleteOne.spec?.template.spec?.containers.map((c) => c.name)).toEqual(["web"]);
  });

  it("server-side apply owns fields, conflicts without force and takes over with it", async () => {
    const config: k8s.V1ConfigMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "applied", namespace: "crud" },
      data: { color: "blue", size: "m" },
    };
    const created = await bed.objects.patch(
      config,
      undefined,
      undefined,
      "labops",
      undefined,
      k8s.PatchStrategy.ServerSideApply,
    );
    expect(created.metadata?.managedFields?.[0]).toMatchObject({ manager: "labops", operation: "Apply" });

    // Re-applying the same configuration changes nothing, not even the resourceVersion.
    const again = await bed.objects.patch(
      config,
      undefined,
      undefined,
      "labops",
      undefined,
      k8s.PatchStrategy.ServerSideApply,
    );
    expect(again.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);

    const other = { ...config, data: { color: "orange" } };
    const conflict = await expectApiError(
      bed.objects.patch(
        other,
        undefined,
        undefined,
        "someone-else",
        undefined,
        k8s.PatchStrategy.ServerSideApply,
      ),
    );
    expect(conflict.code).toBe(409);
    expect(conflict.status.reason).toBe("Conflict");
    expect(conflict.status.message).toBe('Apply failed with 1 conflict: conflict with "labops": .data.color');

    const forced = (await bed.objects.patch(
      other,
      undefined,
      undefined,
      "someone-else",
      true,
      k8s.PatchStrategy.ServerSideApply,
    )) as k8s.V1ConfigMap;
    expect(forced.data).toEqual({ color: "orange", size: "m" });

    // labops stops naming "size": the field goes, since nobody else owns it.
    const dropped = (await bed.objects.patch(
      { ...config, data: {} },
      undefined,
      undefined,
      "labops",
      undefined,
      k8s.PatchStrategy.ServerSideApply,
    )) as k8s.V1ConfigMap;
    expect(dropped.data).toEqual({ color: "orange" });

    const noManager = await expectApiError(
      bed.objects.patch(
        config,
        undefined,
        undefined,
        undefined,
        undefined,
        k8s.PatchStrategy.ServerSideApply,
      ),
    );
    expect(noManager.code).toBe(422);
    expect(noManager.status.message).toContain("fieldManager: Required value");
  });

  it("keeps fields another manager added when a deployment is re-applied", async () => {
    const manifest = webDeployment("reapplied");
    await bed.objects.patch(
      manifest,
      undefined,
      undefined,
      "labops",
      undefined,
      k8s.PatchStrategy.ServerSideApply,
    );
    await bed.apps.patchNamespacedDeployment(
      {
        name: "reapplied",
        namespace: "crud",
        body: {
          spec: {
            template: { metadata: { annotations: { "reloader.stakater.com/last-reloaded-from": "x" } } },
          },
        },
        fieldManager: "Reloader",
      },
      strategic,
    );
    const after = (await bed.objects.patch(
      manifest,
      undefined,
      undefined,
      "labops",
      undefined,
      k8s.PatchStrategy.ServerSideApply,
    )) as k8s.V1Deployment;
    expect(after.spec?.template.metadata?.annotations).toEqual({
      "reloader.stakater.com/last-reloaded-from": "x",
    });
    const managers = after.metadata?.managedFields?.map((m) => `${m.manager}/${m.operation}`);
    expect(managers).toEqual(expect.arrayContaining(["Reloader/Update", "labops/Apply"]));
  });
});

describe("deletion", () => {
  it("cascades from a deployment to its ReplicaSet and pods in the background", async () => {
    await bed.apps.createNamespacedDeployment({ namespace: "crud", body: webDeployment("cascade") });
    await waitFor("the pod", async () => {
      const pods = await bed.core.listNamespacedPod({ namespace: "crud", labelSelector: "app=cascade" });
      return pods.items.length === 1;
    });
    await bed.apps.deleteNamespacedDeployment({ name: "cascade", namespace: "crud" });
    await waitFor("dependents to go", async () => {
      const rs = await bed.apps.listNamespacedReplicaSet({ namespace: "crud", labelSelector: "app=cascade" });
      const pods = await bed.core.listNamespacedPod({ namespace: "crud", labelSelector: "app=cascade" });
      return rs.items.length === 0 && pods.items.length === 0;
    });
  });

  it("holds a foreground deletion behind its finalizer until the dependents are gone", async () => {
    await bed.apps.createNamespacedDeployment({ namespace: "crud", body: webDeployment("foreground") });
    await waitFor("the ReplicaSet", async () => {
      const rs = await bed.apps.listNamespacedReplicaSet({
        namespace: "crud",
        labelSelector: "app=foreground",
      });
      return rs.items.length === 1;
    });
    const seen: { type: string; kind: string; rv: number; finalizers: string[] }[] = [];
    const watch = new k8s.Watch(bed.kc);
    const list = await bed.apps.listNamespacedDeployment({ namespace: "crud" });
    const record = (kind: string) => (type: string, obj: k8s.KubernetesObject) => {
      seen.push({
        type,
        kind,
        rv: Number(obj.metadata?.resourceVersion),
        finalizers: obj.metadata?.finalizers ?? [],
      });
    };
    const rv = list.metadata?.resourceVersion ?? "";
    const w1 = await watch.watch(
      "/apis/apps/v1/namespaces/crud/deployments",
      { resourceVersion: rv, fieldSelector: "metadata.name=foreground" },
      record("Deployment"),
      () => {},
    );
    const w2 = await watch.watch(
      "/apis/apps/v1/namespaces/crud/replicasets",
      { resourceVersion: rv, labelSelector: "app=foreground" },
      record("ReplicaSet"),
      () => {},
    );
    await bed.apps.deleteNamespacedDeployment({
      name: "foreground",
      namespace: "crud",
      propagationPolicy: "Foreground",
    });
    await waitFor("the deployment to go", () =>
      seen.some((e) => e.kind === "Deployment" && e.type === "DELETED"),
    );
    w1.abort();
    w2.abort();
    const marked = seen.find(
      (e) => e.kind === "Deployment" && e.type === "MODIFIED" && e.finalizers.includes("foregroundDeletion"),
    );
    const rsGone = seen.find((e) => e.kind === "ReplicaSet" && e.type === "DELETED");
    const deploymentGone = seen.find((e) => e.kind === "Deployment" && e.type === "DELETED");
    expect(marked).toBeDefined();
    expect(rsGone).toBeDefined();
    // The owner goes last: its DELETED comes after the ReplicaSet's.
    expect(deploymentGone?.rv).toBeGreaterThan(rsGone?.rv ?? Number.POSITIVE_INFINITY);
  });

  it("terminates a namespace: new content is refused, then everything goes", async () => {
    await bed.core.createNamespace({ body: { metadata: { name: "doomed" } } });
    await bed.core.createNamespacedConfigMap({ namespace: "doomed", body: { metadata: { name: "a" } } });
    const ns = await bed.core.deleteNamespace({ name: "doomed" });
    expect(ns).toBeTruthy();
    const refused = await expectApiError(
      bed.core.createNamespacedConfigMap({ namespace: "doomed", body: { metadata: { name: "b" } } }),
    );
    // Either still terminating (403) or already gone (404): both refuse the write.
    expect([403, 404]).toContain(refused.code);
    await waitFor("the namespace to go", async () => {
      const list = await bed.core.listNamespace();
      return !list.items.some((n) => n.metadata?.name === "doomed");
    });
  });
});
