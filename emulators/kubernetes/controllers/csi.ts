import { createHash } from "node:crypto";
import type { KeyVaultAddonConfig } from "../../shared/world.ts";
import type { ClusterApi } from "../api.ts";
import { ApiError } from "../errors.ts";
import type { StoreEvent } from "../store.ts";
import type {
  OwnerReference,
  Pod,
  Secret,
  SecretObject,
  SecretProviderClass,
  SecretProviderClassPodStatus,
  ServiceAccount,
  Volume,
} from "../types.ts";
import { parseGoDuration } from "../util.ts";
import { type AzureKeyVaultProvider, type MountedObject, TOKEN_AUDIENCE } from "./azure-provider.ts";
import type { EventRecorder } from "./events.ts";
import type { CsiNodePlugin, CsiPublishTarget, Kubelet } from "./kubelet.ts";
import { WorkQueue } from "./queue.ts";

/**
 * The Secrets Store CSI driver as the AKS addon runs it (v1.4/1.5 with the
 * rotation reconciler), with the Azure provider behind it:
 *
 * - NodePublishVolume: read the SecretProviderClass, get the pod's
 *   service-account token, let the provider fetch the objects, write the
 *   files, create the SecretProviderClassPodStatus
 *   (`<pod>-<namespace>-<spc>`, owned by the pod).
 * - The SecretProviderClassPodStatus controller creates the synced Secrets
 *   of `secretObjects` (label secrets-store.csi.k8s.io/managed=true) and its
 *   patcher adds the pod's owners (the ReplicaSet) as owner references.
 * - The rotation reconciler, every rotationPollInterval when rotation is on:
 *   re-fetch through the same identity; if versions moved, rewrite the mount,
 *   update the pod status and emit MountRotationComplete; patch each synced
 *   Secret when its data changed and emit SecretRotationComplete every poll
 *   (pkg/rotation/reconciler.go does exactly that).
 */

export const DRIVER_NAME = "secrets-store.csi.k8s.io";
const SPC_GROUP_RESOURCE = "secretproviderclasses.secrets-store.csi.x-k8s.io";
const MANAGED_LABEL = "secrets-store.csi.k8s.io/managed";
const NODE_LABEL = "internal.secrets-store.csi.k8s.io/node-name";
const CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id";
const USE_LABEL = "azure.workload.identity/use";
const DRIVER_MANAGER = "secrets-store-csi";
const ROTATION_SOURCE = { component: "csi-secrets-store-rotation" };
const CONTROLLER_SOURCE = { component: "csi-secrets-store-controller" };
const PATCHER_PERIOD_MS = 5000;
const ROTATION_RETRY_MS = 10_000;
const RESYNC_MS = 5 * 60_000;

export interface CsiCounters {
  /** Passes of the rotation reconciler started (one per poll interval). */
  rotationPasses: number;
  /** The pass that last found new object versions (0 when none has). */
  lastMountRotationPass: number;
  mounts: number;
  mountFailures: number;
  rotationPolls: number;
  mountRotations: number;
  secretRotations: number;
  rotationFailures: number;
  secretsCreated: number;
}

export interface CsiDriverDeps {
  api: ClusterApi;
  events: EventRecorder;
  kubelet: Kubelet;
  provider: AzureKeyVaultProvider;
  /** A token for the pod's service account (signed with the cluster's issuer key). */
  serviceAccountToken(namespace: string, serviceAccount: string, audience: string): Promise<string>;
  /** Where unexpected internal errors go (the cluster keeps the last few for the inventory). */
  onError(error: unknown): void;
}

function rpcUnknown(message: string): Error {
  return new Error(`rpc error: code = Unknown desc = ${message}`);
}

/** secretutil.GetSHAFromSecret's purpose: an order-independent fingerprint of the data. */
function dataSha(data: Record<string, string> | undefined): string {
  const h = createHash("sha256");
  for (const k of Object.keys(data ?? {}).sort()) h.update(`${k}\u0000${data?.[k] ?? ""}\u0000`);
  return h.digest("hex");
}

function spcVolume(pod: Pod, spcName: string): Volume | undefined {
  return (pod.spec.volumes ?? []).find(
    (v) => v.csi?.driver === DRIVER_NAME && v.csi.volumeAttributes?.secretProviderClass === spcName,
  );
}

export class SecretsStoreCsiDriver implements CsiNodePlugin {
  readonly driverName = DRIVER_NAME;
  private readonly deps: CsiDriverDeps;
  readonly counters: CsiCounters = {
    rotationPasses: 0,
    lastMountRotationPass: 0,
    mounts: 0,
    mountFailures: 0,
    rotationPolls: 0,
    mountRotations: 0,
    secretRotations: 0,
    rotationFailures: 0,
    secretsCreated: 0,
  };
  private addon: KeyVaultAddonConfig | undefined;
  private cancelTicker: (() => void) | undefined;
  private readonly patcher: WorkQueue;
  private readonly retry: WorkQueue;
  /** The pod status controller's resync: a synced Secret someone deleted comes back within five minutes. */
  private readonly resync: WorkQueue;
  private readonly unsubscribe: () => void;
  private rotating = false;
  /** The pass in progress; retries of failed pod statuses count as the pass that runs them. */
  private pass = 0;
  private stopped = false;

  constructor(deps: CsiDriverDeps) {
    this.deps = deps;
    this.patcher = new WorkQueue(deps.api.clock, (ns) => this.patchOwners(ns));
    this.resync = new WorkQueue(deps.api.clock, (key) => this.resyncSecrets(key));
    this.retry = new WorkQueue(deps.api.clock, (key) => {
      this.reconcileOne(key).catch((e: unknown) => deps.onError(e));
    });
    this.unsubscribe = deps.api.store.onChange((e) => this.onChange(e));
  }

  /** Applies the cluster's addon configuration: rotation on or off, and its poll interval. */
  configure(addon: KeyVaultAddonConfig | undefined): void {
    const before = this.addon;
    this.addon = addon;
    const interval = addon?.enableSecretRotation
      ? (parseGoDuration(addon.rotationPollInterval) ?? 120_000)
      : undefined;
    const beforeInterval = before?.enableSecretRotation
      ? (parseGoDuration(before.rotationPollInterval) ?? 120_000)
      : undefined;
    if (interval === beforeInterval && this.cancelTicker !== undefined) return;
    this.cancelTicker?.();
    this.cancelTicker = undefined;
    if (interval !== undefined && interval > 0 && !this.stopped) this.startTicker(interval);
  }

  private startTicker(interval: number): void {
    const tick = () => {
      if (this.stopped) return;
      this.rotateAll().catch((e: unknown) => this.deps.onError(e));
      this.cancelTicker = this.deps.api.clock.schedule(interval, tick);
    };
    this.cancelTicker = this.deps.api.clock.schedule(interval, tick);
  }

  stop(): void {
    this.stopped = true;
    this.cancelTicker?.();
    this.patcher.stop();
    this.retry.stop();
    this.resync.stop();
    this.unsubscribe();
  }

  private onChange(e: StoreEvent): void {
    // The patcher runs on a 5 s ticker in the real driver; here it runs 5 s after a pod status or synced Secret appears.
    if (
      e.storageKey === "secrets-store.csi.x-k8s.io/secretproviderclasspodstatuses" &&
      e.type !== "DELETED"
    ) {
      this.patcher.addAfter(e.object.metadata.namespace ?? "", PATCHER_PERIOD_MS);
    }
  }

  // --- NodePublishVolume ---

  async publish(pod: Pod, volume: Volume, target: CsiPublishTarget): Promise<void> {
    const api = this.deps.api;
    const ns = pod.metadata.namespace ?? "";
    const podName = pod.metadata.name ?? "";
    const spcName = volume.csi?.volumeAttributes?.secretProviderClass ?? "";
    if (spcName === "") {
      this.counters.mountFailures++;
      throw rpcUnknown("secretProviderClass is not set");
    }
    const spc = api.store.get(`${"secrets-store.csi.x-k8s.io"}/secretproviderclasses`, ns, spcName) as
      | SecretProviderClass
      | undefined;
    if (!spc) {
      this.counters.mountFailures++;
      throw rpcUnknown(
        `failed to get secretproviderclass ${ns}/${spcName}, error: ${SPC_GROUP_RESOURCE} "${spcName}" not found`,
      );
    }
    let objects: MountedObject[];
    try {
      objects = await this.fetch(pod, spc);
    } catch (e) {
      this.counters.mountFailures++;
      throw rpcUnknown(
        `failed to mount secrets store objects for pod ${ns}/${podName}, err: ${(e as Error).message}`,
      );
    }
    target.files.clear();
    for (const o of objects) target.files.set(o.path, o.content);
    this.counters.mounts++;
    const current = api.store.get("core/pods", ns, podName) as Pod | undefined;
    if (!current || current.metadata.uid !== pod.metadata.uid) return;
    this.writePodStatus(current, spcName, target.targetPath, objects);
    this.syncSecrets(current, spc, target.files);
    this.resync.addAfter(`${ns}/${podName}-${ns}-${spcName}`, RESYNC_MS);
  }

  unpublish(_pod: Pod, _volume: Volume): void {
    // Files live in the kubelet's pod runtime and go with it; the pod status object goes by garbage collection.
  }

  /**
   * What the provider returns for this pod and class: errors are wrapped as
   * the driver wraps a provider's gRPC error.
   */
  private async fetch(pod: Pod, spc: SecretProviderClass): Promise<MountedObject[]> {
    const provider = (spc.spec?.provider ?? "").trim();
    if (provider === "")
      throw new Error(`provider not set in ${spc.metadata.namespace ?? ""}/${spc.metadata.name ?? ""}`);
    if (provider !== "azure") throw new Error(`provider not found: provider "${provider}"`);
    const ns = pod.metadata.namespace ?? "";
    const saName = pod.spec.serviceAccountName ?? "default";
    const wrap = (m: string) => rpcUnknown(`failed to mount objects, error: ${m}`).message;
    // Workload identity needs the service account's client-id annotation and the pod's opt-in label.
    const sa = this.deps.api.store.get("core/serviceaccounts", ns, saName) as ServiceAccount | undefined;
    if (!sa?.metadata.annotations?.[CLIENT_ID_ANNOTATION]) {
      throw new Error(
        wrap(
          `failed to get keyvault client: workload identity is not set up for service account ${ns}/${saName}: it has no ${CLIENT_ID_ANNOTATION} annotation`,
        ),
      );
    }
    if (pod.metadata.labels?.[USE_LABEL] !== "true") {
      throw new Error(
        wrap(
          `failed to get keyvault client: workload identity is not enabled for pod ${ns}/${pod.metadata.name ?? ""}: it lacks the label ${USE_LABEL}: "true"`,
        ),
      );
    }
    let token: string;
    try {
      token = await this.deps.serviceAccountToken(ns, saName, TOKEN_AUDIENCE);
    } catch (e) {
      throw new Error(wrap(`failed to get service account token: ${(e as Error).message}`));
    }
    try {
      return await this.deps.provider.mount({
        parameters: spc.spec?.parameters ?? {},
        podName: pod.metadata.name ?? "",
        podNamespace: ns,
        serviceAccountToken: token,
      });
    } catch (e) {
      throw new Error(wrap((e as Error).message));
    }
  }

  private writePodStatus(pod: Pod, spcName: string, targetPath: string, objects: MountedObject[]): void {
    const api = this.deps.api;
    const rt = api.type("secrets-store.csi.x-k8s.io", "secretproviderclasspodstatuses");
    const ns = pod.metadata.namespace ?? "";
    const name = `${pod.metadata.name ?? ""}-${ns}-${spcName}`;
    const status: SecretProviderClassPodStatus["status"] = {
      podName: pod.metadata.name ?? "",
      secretProviderClassName: spcName,
      mounted: true,
      targetPath,
      objects: objects
        .map((o) => ({ id: o.id, version: o.version }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    };
    const owner: OwnerReference = {
      apiVersion: "v1",
      kind: "Pod",
      name: pod.metadata.name ?? "",
      uid: pod.metadata.uid ?? "",
    };
    const body: SecretProviderClassPodStatus = {
      apiVersion: "secrets-store.csi.x-k8s.io/v1",
      kind: "SecretProviderClassPodStatus",
      metadata: {
        name,
        namespace: ns,
        labels: { [NODE_LABEL]: pod.spec.nodeName ?? "" },
        ownerReferences: [owner],
      },
      status,
    };
    try {
      api.create(rt, ns, body, { fieldManager: DRIVER_MANAGER });
    } catch (e) {
      if (!(e instanceof ApiError) || e.reason !== "AlreadyExists") throw e;
      api.mutate(
        rt,
        ns,
        name,
        (o) => {
          const s = o as SecretProviderClassPodStatus;
          s.metadata.labels = { ...(s.metadata.labels ?? {}), [NODE_LABEL]: pod.spec.nodeName ?? "" };
          s.metadata.ownerReferences = [owner];
          s.status = status;
          return true;
        },
        { fieldManager: DRIVER_MANAGER },
      );
    }
  }

  /** The SecretProviderClassPodStatus controller: create missing synced Secrets from the mounted files. */
  private syncSecrets(pod: Pod, spc: SecretProviderClass, files: Map<string, string>): void {
    const api = this.deps.api;
    const ns = pod.metadata.namespace ?? "";
    const secretRt = api.type("", "secrets");
    for (const so of spc.spec?.secretObjects ?? []) {
      const secretName = (so.secretName ?? "").trim();
      if (secretName === "" || api.store.get(secretRt.storageKey, ns, secretName)) continue;
      let data: Record<string, string>;
      try {
        data = this.secretData(so, files);
      } catch (e) {
        this.deps.events.record(
          pod,
          "Warning",
          "FailedToCreateSecret",
          `failed to get data in spc ${ns}/${spc.metadata.name ?? ""} for secret ${secretName}, err: ${(e as Error).message}`,
          CONTROLLER_SOURCE,
        );
        continue;
      }
      const secret: Secret = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name: secretName,
          namespace: ns,
          labels: { ...(so.labels ?? {}), [MANAGED_LABEL]: "true" },
        },
        type: so.type && so.type !== "" ? so.type : "Opaque",
        data,
      };
      if (so.annotations) secret.metadata.annotations = { ...so.annotations };
      try {
        api.create(secretRt, ns, secret, { fieldManager: DRIVER_MANAGER });
        this.counters.secretsCreated++;
      } catch (e) {
        if (!(e instanceof ApiError) || e.reason !== "AlreadyExists") {
          this.deps.events.record(
            pod,
            "Warning",
            "FailedToCreateSecret",
            (e as Error).message,
            CONTROLLER_SOURCE,
          );
        }
      }
    }
  }

  private resyncSecrets(key: string): void {
    const api = this.deps.api;
    const slash = key.indexOf("/");
    const ns = key.slice(0, slash);
    const spcps = api.store.get(
      "secrets-store.csi.x-k8s.io/secretproviderclasspodstatuses",
      ns,
      key.slice(slash + 1),
    ) as SecretProviderClassPodStatus | undefined;
    if (!spcps) return;
    const pod = api.store.get("core/pods", ns, spcps.status?.podName ?? "") as Pod | undefined;
    const spc = api.store.get(
      "secrets-store.csi.x-k8s.io/secretproviderclasses",
      ns,
      spcps.status?.secretProviderClassName ?? "",
    ) as SecretProviderClass | undefined;
    if (pod && spc && pod.metadata.deletionTimestamp === undefined) {
      const volume = spcVolume(pod, spc.metadata.name ?? "");
      const files = volume
        ? this.deps.kubelet.runtime(ns, pod.metadata.name ?? "")?.mounts.get(volume.name)?.files
        : undefined;
      if (files) this.syncSecrets(pod, spc, files);
    }
    this.resync.addAfter(key, RESYNC_MS);
  }

  private secretData(so: SecretObject, files: Map<string, string>): Record<string, string> {
    const data: Record<string, string> = {};
    for (const d of so.data ?? []) {
      const content = files.get(d.objectName);
      if (content === undefined)
        throw new Error(`file matching objectName ${d.objectName} not found in the pod`);
      data[d.key] = Buffer.from(content, "utf8").toString("base64");
    }
    return data;
  }

  /** The patcher: every synced Secret is owned by the owners of the pods that mount its class. */
  private patchOwners(namespace: string): void {
    const api = this.deps.api;
    const owners = new Map<string, OwnerReference[]>();
    for (const o of api.store.list("secrets-store.csi.x-k8s.io/secretproviderclasspodstatuses", namespace)) {
      const st = (o as SecretProviderClassPodStatus).status;
      const pod = api.store.get("core/pods", namespace, st?.podName ?? "") as Pod | undefined;
      const spc = api.store.get(
        "secrets-store.csi.x-k8s.io/secretproviderclasses",
        namespace,
        st?.secretProviderClassName ?? "",
      ) as SecretProviderClass | undefined;
      if (!pod || !spc) continue;
      let refs: OwnerReference[] = (pod.metadata.ownerReferences ?? []).map((r) => ({
        apiVersion: r.apiVersion,
        kind: r.kind,
        name: r.name,
        uid: r.uid,
      }));
      if (refs.length === 0) {
        refs = [
          {
            apiVersion: "secrets-store.csi.x-k8s.io/v1",
            kind: "SecretProviderClassPodStatus",
            name: o.metadata.name ?? "",
            uid: o.metadata.uid ?? "",
          },
        ];
      }
      for (const so of spc.spec?.secretObjects ?? []) {
        const list = owners.get(so.secretName) ?? [];
        list.push(...refs);
        owners.set(so.secretName, list);
      }
    }
    const secretRt = api.type("", "secrets");
    for (const [secretName, refs] of owners) {
      api.mutate(
        secretRt,
        namespace,
        secretName,
        (o) => {
          const existing = o.metadata.ownerReferences ?? [];
          const byName = new Set(existing.map((r) => r.name));
          const add = refs.filter((r) => {
            if (byName.has(r.name)) return false;
            byName.add(r.name);
            return true;
          });
          if (add.length === 0) return false;
          o.metadata.ownerReferences = [...existing, ...add];
          return true;
        },
        { fieldManager: DRIVER_MANAGER },
      );
    }
  }

  // --- rotation reconciler ---

  /** One pass of the rotation reconciler over every pod status (test hook and ticker). */
  async rotateAll(): Promise<void> {
    if (this.rotating || this.stopped) return;
    this.rotating = true;
    this.counters.rotationPasses++;
    this.pass = this.counters.rotationPasses;
    try {
      const list = this.deps.api.store.list("secrets-store.csi.x-k8s.io/secretproviderclasspodstatuses");
      for (const o of list) {
        if (this.stopped) return;
        await this.reconcileOne(`${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`);
      }
    } finally {
      this.rotating = false;
    }
  }

  private async reconcileOne(key: string): Promise<void> {
    const api = this.deps.api;
    const slash = key.indexOf("/");
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const spcps = api.store.get("secrets-store.csi.x-k8s.io/secretproviderclasspodstatuses", ns, name) as
      | SecretProviderClassPodStatus
      | undefined;
    if (!spcps) return;
    this.counters.rotationPolls++;
    const pod = api.store.get("core/pods", ns, spcps.status?.podName ?? "") as Pod | undefined;
    if (!pod) return;
    if (
      pod.metadata.deletionTimestamp !== undefined ||
      pod.status?.phase === "Succeeded" ||
      pod.status?.phase === "Failed"
    ) {
      return;
    }
    const spc = api.store.get(
      "secrets-store.csi.x-k8s.io/secretproviderclasses",
      ns,
      spcps.status.secretProviderClassName,
    ) as SecretProviderClass | undefined;
    if (!spc) return;
    const volume = spcVolume(pod, spc.metadata.name ?? "");
    if (!volume) return;
    let objects: MountedObject[];
    try {
      objects = await this.fetch(pod, spc);
    } catch (e) {
      this.counters.rotationFailures++;
      const latest = api.store.get("core/pods", ns, pod.metadata.name ?? "") as Pod | undefined;
      if (latest && latest.metadata.uid === pod.metadata.uid) {
        this.deps.events.record(
          latest,
          "Warning",
          "MountRotationFailed",
          `provider mount err: ${(e as Error).message}`,
          ROTATION_SOURCE,
        );
      }
      this.retry.addAfter(key, ROTATION_RETRY_MS);
      return;
    }
    const latestPod = api.store.get("core/pods", ns, pod.metadata.name ?? "") as Pod | undefined;
    if (
      !latestPod ||
      latestPod.metadata.uid !== pod.metadata.uid ||
      latestPod.metadata.deletionTimestamp !== undefined
    )
      return;
    const old = new Map((spcps.status.objects ?? []).map((o) => [o.id.trim(), o.version.trim()]));
    const changed = objects.some((o) => old.get(o.id) !== o.version) || old.size !== objects.length;
    const runtime = this.deps.kubelet.runtime(ns, pod.metadata.name ?? "");
    const mount = runtime?.mounts.get(volume.name);
    if (changed) {
      this.counters.mountRotations++;
      this.counters.lastMountRotationPass = this.pass;
      if (mount) {
        mount.files.clear();
        for (const o of objects) mount.files.set(o.path, o.content);
      }
      this.deps.events.record(
        latestPod,
        "Normal",
        "MountRotationComplete",
        `successfully rotated mounted contents for spc ${ns}/${spc.metadata.name ?? ""}`,
        ROTATION_SOURCE,
      );
      api.mutate(
        api.type("secrets-store.csi.x-k8s.io", "secretproviderclasspodstatuses"),
        ns,
        name,
        (o) => {
          const s = o as SecretProviderClassPodStatus;
          s.status.objects = objects
            .map((x) => ({ id: x.id, version: x.version }))
            .sort((a, b) => a.id.localeCompare(b.id));
          return true;
        },
        { fieldManager: DRIVER_MANAGER },
      );
    }
    const files = new Map(objects.map((o) => [o.path, o.content]));
    for (const so of spc.spec?.secretObjects ?? []) {
      const secretName = (so.secretName ?? "").trim();
      let data: Record<string, string>;
      try {
        data = this.secretData(so, files);
      } catch (e) {
        this.deps.events.record(
          latestPod,
          "Warning",
          "SecretRotationFailed",
          `failed to get data in spc ${ns}/${spc.metadata.name ?? ""} for secret ${secretName}, err: ${(e as Error).message}`,
          ROTATION_SOURCE,
        );
        continue;
      }
      if (!this.patchSecret(ns, secretName, data)) {
        this.deps.events.record(
          latestPod,
          "Warning",
          "SecretRotationFailed",
          `failed to patch secret ${secretName} with new data, err: timed out waiting for the condition`,
          ROTATION_SOURCE,
        );
        continue;
      }
      this.deps.events.record(
        latestPod,
        "Normal",
        "SecretRotationComplete",
        `successfully rotated K8s secret ${secretName}`,
        ROTATION_SOURCE,
      );
    }
  }

  /** Merge-patches the Secret's data when it differs; false when the Secret is missing. */
  private patchSecret(ns: string, name: string, data: Record<string, string>): boolean {
    const api = this.deps.api;
    const rt = api.type("", "secrets");
    const current = api.store.get(rt.storageKey, ns, name) as Secret | undefined;
    if (!current) return false;
    if (dataSha(current.data) === dataSha(data)) return true;
    api.patch(rt, ns, name, "application/merge-patch+json", JSON.stringify({ data }), {
      fieldManager: DRIVER_MANAGER,
    });
    this.counters.secretRotations++;
    return true;
  }
}
