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
  Volume,
} from "../types.ts";
import { parseGoDuration } from "../util.ts";
import { type AzureKeyVaultProvider, type MountedObject, TOKEN_AUDIENCE } from "./azure-provider.ts";
import type { EventRecorder } from "./events.ts";
import type { CsiNodePlugin, CsiPublishTarget, Kubelet } from "./kubelet.ts";
import { WorkQueue } from "./queue.ts";

/**
 * The Secrets Store CSI driver as the AKS addon runs it, with the Azure
 * provider behind it, in one of two releases (kubernetes-sigs/
 * secrets-store-csi-driver, read at the tags v1.5.6 and v1.6.0):
 *
 * - NodePublishVolume (pkg/secrets-store/nodeserver.go): read the
 *   SecretProviderClass through the manager's cache, get the pod's
 *   service-account token, let the provider fetch the objects, write the
 *   files, create or update the SecretProviderClassPodStatus
 *   (`<pod>-<namespace>-<spc>`, owned by the pod; pkg/secrets-store/utils.go).
 * - The SecretProviderClassPodStatus controller
 *   (controllers/secretproviderclasspodstatus_controller.go) reconciles each
 *   pod status on create and update and every five minutes, and syncs the
 *   Secrets of `secretObjects` (label secrets-store.csi.k8s.io/managed=true);
 *   its patcher adds the pods' owners (the ReplicaSet) as owner references.
 * - The manager's cache sees only Secrets labelled managed=true
 *   (cmd/secrets-store-csi-driver/main.go, cache.Options.ByObject), so
 *   everything that reads a Secret through it (the patcher, v1.5's rotation
 *   reconciler and its "exists" check) never sees a Secret the driver did
 *   not label.
 *
 * Release "1.5" (v1.4/v1.5): the rotation reconciler (pkg/rotation/
 * reconciler.go), every rotationPollInterval when rotation is on, re-fetches
 * each pod's objects; on new versions it rewrites the mount, updates the pod
 * status and emits MountRotationComplete; it merge-patches each synced Secret
 * whose data changed and emits SecretRotationComplete on every poll (or
 * SecretRotationFailed when the Secret is not in its cache); a failed fetch
 * is MountRotationFailed and a retry after 10 s. The pod status controller
 * creates a missing Secret and otherwise leaves it alone (createK8sSecret:
 * AlreadyExists is no error).
 *
 * Release "1.6": no reconciler ("feat: Use RequiresRepublish for secret
 * rotation", #1622). The CSIDriver sets requiresRepublish, so the kubelet
 * calls NodePublishVolume again on every pod sync; with rotation on, a call
 * within rotationPollInterval of the mount's last write is skipped, a later
 * one re-fetches and rewrites the files when they changed, then updates the
 * pod status; a failed re-fetch is masked (no error, no event). The pod
 * status controller, woken by that update, creates or updates the synced
 * Secrets (createOrUpdateK8sSecret: on AlreadyExists it Updates the whole
 * Secret with the class's labels, annotations and data). No rotation events.
 */

export type CsiDriverRelease = "1.5" | "1.6";
/** What a cluster runs unless the emulator is told otherwise: the current release. */
export const DEFAULT_CSI_DRIVER_RELEASE: CsiDriverRelease = "1.6";
export const CSI_DRIVER_IMAGES: Record<CsiDriverRelease, string> = {
  "1.5": "mcr.microsoft.com/oss/v2/kubernetes-csi/secrets-store/driver:v1.5.3",
  "1.6": "mcr.microsoft.com/oss/v2/kubernetes-csi/secrets-store/driver:v1.6.0",
};

export const DRIVER_NAME = "secrets-store.csi.k8s.io";
const SPC_KEY = "secrets-store.csi.x-k8s.io/secretproviderclasses";
const SPCPS_KEY = "secrets-store.csi.x-k8s.io/secretproviderclasspodstatuses";
const MANAGED_LABEL = "secrets-store.csi.k8s.io/managed";
const NODE_LABEL = "internal.secrets-store.csi.k8s.io/node-name";
const DRIVER_MANAGER = "secrets-store-csi";
const ROTATION_SOURCE = { component: "csi-secrets-store-rotation" };
const CONTROLLER_SOURCE = { component: "csi-secrets-store-controller" };
const PATCHER_PERIOD_MS = 5000;
const ROTATION_RETRY_MS = 10_000;
/** The pod status controller's requeue after a successful reconcile. */
const RESYNC_MS = 5 * 60_000;
/** Its requeue when the pod or the class is not found (yet). */
const NOT_FOUND_REQUEUE_MS = 5000;
/** The helm chart's and the driver's default --rotation-poll-interval. */
const DEFAULT_POLL_MS = 120_000;

export interface CsiCounters {
  /** Passes of the v1.5 rotation reconciler started (one per poll interval). */
  rotationPasses: number;
  /** The v1.5 pass that last found new object versions (0 when none has). */
  lastMountRotationPass: number;
  mounts: number;
  mountFailures: number;
  /** Pod statuses the reconciler polled (1.5), or republishes that re-fetched (1.6). */
  rotationPolls: number;
  /** Republish calls from the kubelet (1.6), skipped ones included. */
  republishes: number;
  mountRotations: number;
  secretRotations: number;
  /** Failed re-fetches: MountRotationFailed (1.5), masked remount errors (1.6). */
  rotationFailures: number;
  secretsCreated: number;
}

export interface CsiDriverDeps {
  api: ClusterApi;
  events: EventRecorder;
  kubelet: Kubelet;
  provider: AzureKeyVaultProvider;
  release: CsiDriverRelease;
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

function sameFiles(files: Map<string, string>, objects: MountedObject[]): boolean {
  return files.size === objects.length && objects.every((o) => files.get(o.path) === o.content);
}

export class SecretsStoreCsiDriver implements CsiNodePlugin {
  readonly driverName = DRIVER_NAME;
  readonly release: CsiDriverRelease;
  private readonly deps: CsiDriverDeps;
  readonly counters: CsiCounters = {
    rotationPasses: 0,
    lastMountRotationPass: 0,
    mounts: 0,
    mountFailures: 0,
    rotationPolls: 0,
    republishes: 0,
    mountRotations: 0,
    secretRotations: 0,
    rotationFailures: 0,
    secretsCreated: 0,
  };
  private addon: KeyVaultAddonConfig | undefined;
  private cancelTicker: (() => void) | undefined;
  private readonly patcher: WorkQueue;
  private readonly retry: WorkQueue;
  /** The SecretProviderClassPodStatus controller's queue (keys "ns/name"). */
  private readonly controller: WorkQueue;
  private readonly unsubscribe: () => void;
  /** Mounted volumes by target path: the files the controller reads (fileutil.GetMountedFiles). */
  private readonly targets = new Map<string, CsiPublishTarget>();
  private rotating = false;
  /** The pass in progress; retries of failed pod statuses count as the pass that runs them. */
  private pass = 0;
  private stopped = false;

  constructor(deps: CsiDriverDeps) {
    this.deps = deps;
    this.release = deps.release;
    this.patcher = new WorkQueue(deps.api.clock, (ns) => this.patchOwners(ns));
    this.controller = new WorkQueue(deps.api.clock, (key) => this.reconcilePodStatus(key));
    this.retry = new WorkQueue(deps.api.clock, (key) => {
      this.reconcileRotation(key).catch((e: unknown) => deps.onError(e));
    });
    this.unsubscribe = deps.api.store.onChange((e) => this.onChange(e));
  }

  /**
   * CSIDriver.spec.requiresRepublish: v1.6's manifests set it whenever
   * rotation is on (charts/…/templates/csidriver.yaml: `requiresRepublish:
   * {{ .Values.enableSecretRotation }}`), so the kubelet republishes.
   * v1.5 rotates by itself and would skip a republish of a mounted path.
   */
  get requiresRepublish(): boolean {
    return this.release === "1.6" && this.addon?.enableSecretRotation === true;
  }

  private pollIntervalMs(addon = this.addon): number | undefined {
    return addon?.enableSecretRotation
      ? (parseGoDuration(addon.rotationPollInterval) ?? DEFAULT_POLL_MS)
      : undefined;
  }

  /** Applies the cluster's addon configuration: rotation on or off, and its poll interval. */
  configure(addon: KeyVaultAddonConfig | undefined): void {
    const before = this.pollIntervalMs();
    this.addon = addon;
    if (this.release !== "1.5") return;
    const interval = this.pollIntervalMs();
    if (interval === before && this.cancelTicker !== undefined) return;
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
    this.controller.stop();
    this.unsubscribe();
    this.targets.clear();
  }

  private onChange(e: StoreEvent): void {
    if (e.storageKey !== SPCPS_KEY || e.type === "DELETED") return;
    // The patcher runs on a 5 s ticker in the real driver; here it runs 5 s after a pod status changes.
    const ns = e.object.metadata.namespace ?? "";
    this.patcher.addAfter(ns, PATCHER_PERIOD_MS);
    // The controller's predicate: create and update events of pod statuses labelled for a node of this
    // cluster (every node runs a driver pod), never deletes.
    if (e.object.metadata.labels?.[NODE_LABEL] === undefined) return;
    this.controller.add(`${ns}/${e.object.metadata.name ?? ""}`);
  }

  // --- the manager's cache (Secrets labelled managed=true only) ---

  private cachedSecret(ns: string, name: string): Secret | undefined {
    const s = this.deps.api.store.get("core/secrets", ns, name) as Secret | undefined;
    return s?.metadata.labels?.[MANAGED_LABEL] === "true" ? s : undefined;
  }

  // --- NodePublishVolume ---

  async publish(pod: Pod, volume: Volume, target: CsiPublishTarget): Promise<void> {
    const remount = target.mounted === true;
    if (remount) this.counters.republishes++;
    const rotation = this.pollIntervalMs();
    if (remount) {
      // nodeserver.go: with rotation on, skip until rotationCacheDuration has passed since the last
      // write to the target path; with it off, an already mounted path is left alone.
      if (rotation === undefined) return;
      if (this.deps.api.clock.now() < (target.writtenAt ?? 0) + rotation) return;
    }
    const api = this.deps.api;
    const ns = pod.metadata.namespace ?? "";
    const podName = pod.metadata.name ?? "";
    const spcName = volume.csi?.volumeAttributes?.secretProviderClass ?? "";
    if (spcName === "") {
      if (!remount) this.counters.mountFailures++;
      throw rpcUnknown("secretProviderClass is not set");
    }
    const spc = api.store.get(SPC_KEY, ns, spcName) as SecretProviderClass | undefined;
    if (!spc) {
      if (!remount) this.counters.mountFailures++;
      // utils.go getSecretProviderItem wraps the cached client's NotFound, which controller-runtime's
      // CacheReader builds with the Kind as resource (pkg/cache/internal/cache_reader.go).
      throw rpcUnknown(
        `failed to get secretproviderclass ${ns}/${spcName}, error: SecretProviderClass.secrets-store.csi.x-k8s.io "${spcName}" not found`,
      );
    }
    if (remount) this.counters.rotationPolls++;
    let objects: MountedObject[];
    try {
      objects = await this.fetch(pod, spc);
    } catch (e) {
      if (remount) {
        // "Mask error until fix available for kubernetes/kubernetes#121271": the kubelet sees success.
        this.counters.rotationFailures++;
        return;
      }
      this.counters.mountFailures++;
      throw rpcUnknown(
        `failed to mount secrets store objects for pod ${ns}/${podName}, err: ${(e as Error).message}`,
      );
    }
    const changed = !sameFiles(target.files, objects);
    if (changed) {
      // The atomic writer writes (and touches the target path) only when the payload differs.
      target.files.clear();
      for (const o of objects) target.files.set(o.path, o.content);
      target.writtenAt = api.clock.now();
      if (remount) {
        this.counters.mountRotations++;
      }
    }
    target.mounted = true;
    this.targets.set(target.targetPath, target);
    if (!remount) this.counters.mounts++;
    const current = api.store.get("core/pods", ns, podName) as Pod | undefined;
    if (!current || current.metadata.uid !== pod.metadata.uid) return;
    this.writePodStatus(current, spcName, target.targetPath, objects);
  }

  unpublish(_pod: Pod, _volume: Volume, target?: CsiPublishTarget): void {
    // Files live in the kubelet's pod runtime and go with it; the pod status object goes by garbage collection.
    if (target) this.targets.delete(target.targetPath);
  }

  /**
   * What the provider returns for this pod and class: errors are wrapped as
   * the driver wraps a provider's gRPC error. Azure/secrets-store-csi-driver-
   * provider-azure takes the client id from the class's parameters and the
   * token from the kubelet's token request (pkg/provider/provider.go
   * GetSecretsStoreObjectContent: types.GetClientID(attrib),
   * types.GetServiceAccountTokens(attrib); pkg/auth/auth.go
   * ParseServiceAccountToken): it reads neither the service account's
   * azure.workload.identity/client-id annotation nor the pod's
   * azure.workload.identity/use label.
   */
  private async fetch(pod: Pod, spc: SecretProviderClass): Promise<MountedObject[]> {
    const provider = (spc.spec?.provider ?? "").trim();
    if (provider === "")
      throw new Error(`provider not set in ${spc.metadata.namespace ?? ""}/${spc.metadata.name ?? ""}`);
    if (provider !== "azure") throw new Error(`provider not found: provider "${provider}"`);
    const ns = pod.metadata.namespace ?? "";
    const saName = pod.spec.serviceAccountName ?? "default";
    const wrap = (m: string) => rpcUnknown(`failed to mount objects, error: ${m}`).message;
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
      // An update that changes nothing leaves the object (and its resourceVersion) as it was.
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

  // --- the SecretProviderClassPodStatus controller ---

  private reconcilePodStatus(key: string): void {
    const api = this.deps.api;
    const slash = key.indexOf("/");
    const ns = key.slice(0, slash);
    const spcps = api.store.get(SPCPS_KEY, ns, key.slice(slash + 1)) as
      | SecretProviderClassPodStatus
      | undefined;
    if (!spcps) return;
    const pod = api.store.get("core/pods", ns, spcps.status?.podName ?? "") as Pod | undefined;
    if (!pod) {
      this.controller.addAfter(key, NOT_FOUND_REQUEUE_MS);
      return;
    }
    if (
      pod.metadata.deletionTimestamp !== undefined ||
      pod.status?.phase === "Succeeded" ||
      pod.status?.phase === "Failed"
    ) {
      return;
    }
    const spc = api.store.get(SPC_KEY, ns, spcps.status?.secretProviderClassName ?? "") as
      | SecretProviderClass
      | undefined;
    if (!spc) {
      this.controller.addAfter(key, NOT_FOUND_REQUEUE_MS);
      return;
    }
    const secretObjects = spc.spec?.secretObjects ?? [];
    if (secretObjects.length === 0) return;
    const files = this.targets.get(spcps.status.targetPath)?.files;
    if (!files) {
      this.deps.events.record(
        pod,
        "Warning",
        "FailedToCreateSecret",
        `failed to get mounted files, err: open ${spcps.status.targetPath}: no such file or directory`,
        CONTROLLER_SOURCE,
      );
      this.controller.addAfter(key, ROTATION_RETRY_MS);
      return;
    }
    for (const so of secretObjects) {
      const secretName = (so.secretName ?? "").trim();
      if (secretName === "") continue;
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
      try {
        if (this.release === "1.5") this.createSecret(ns, secretName, so, data);
        else this.createOrUpdateSecret(ns, secretName, so, data);
      } catch (e) {
        this.deps.events.record(
          pod,
          "Warning",
          "FailedToCreateSecret",
          (e as Error).message,
          CONTROLLER_SOURCE,
        );
      }
    }
    this.controller.addAfter(key, RESYNC_MS);
  }

  private secretBody(ns: string, name: string, so: SecretObject, data: Record<string, string>): Secret {
    const secret: Secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: ns, labels: { ...(so.labels ?? {}), [MANAGED_LABEL]: "true" } },
      type: so.type && so.type !== "" ? so.type : "Opaque",
      data,
    };
    if (so.annotations) secret.metadata.annotations = { ...so.annotations };
    return secret;
  }

  /**
   * v1.5: create the Secret unless the cache has it; a Secret that exists
   * without the managed label is not in the cache, so the create is tried and
   * its AlreadyExists ignored: the Secret is left as it is.
   */
  private createSecret(ns: string, name: string, so: SecretObject, data: Record<string, string>): void {
    if (this.cachedSecret(ns, name)) return;
    const api = this.deps.api;
    try {
      api.create(api.type("", "secrets"), ns, this.secretBody(ns, name, so, data), {
        fieldManager: DRIVER_MANAGER,
      });
      this.counters.secretsCreated++;
    } catch (e) {
      if (!(e instanceof ApiError) || e.reason !== "AlreadyExists") throw e;
    }
  }

  /** v1.6: create, or on AlreadyExists replace the whole Secret (an Update without resourceVersion). */
  private createOrUpdateSecret(
    ns: string,
    name: string,
    so: SecretObject,
    data: Record<string, string>,
  ): void {
    const api = this.deps.api;
    const rt = api.type("", "secrets");
    const body = this.secretBody(ns, name, so, data);
    try {
      api.create(rt, ns, body, { fieldManager: DRIVER_MANAGER });
      this.counters.secretsCreated++;
      return;
    } catch (e) {
      if (!(e instanceof ApiError) || e.reason !== "AlreadyExists") throw e;
    }
    const before = api.store.get(rt.storageKey, ns, name) as Secret | undefined;
    const after = api.update(rt, ns, name, body, { fieldManager: DRIVER_MANAGER }) as Secret;
    if (before && dataSha(before.data) !== dataSha(after.data)) this.counters.secretRotations++;
    // The update drops the owner references the patcher added; its next tick adds them back.
    this.patcher.addAfter(ns, PATCHER_PERIOD_MS);
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

  /** The patcher: every synced Secret in the cache is owned by the owners of the pods that mount its class. */
  private patchOwners(namespace: string): void {
    const api = this.deps.api;
    const owners = new Map<string, OwnerReference[]>();
    for (const o of api.store.list(SPCPS_KEY, namespace)) {
      const st = (o as SecretProviderClassPodStatus).status;
      const pod = api.store.get("core/pods", namespace, st?.podName ?? "") as Pod | undefined;
      const spc = api.store.get(SPC_KEY, namespace, st?.secretProviderClassName ?? "") as
        | SecretProviderClass
        | undefined;
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
      // patchSecretWithOwnerRef reads through the cache: a Secret the driver did not label is "not found".
      if (!this.cachedSecret(namespace, secretName)) continue;
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

  // --- v1.5: the rotation reconciler ---

  /** One pass of the rotation reconciler over every pod status (1.5; the ticker and a test hook). */
  async rotateAll(): Promise<void> {
    if (this.release !== "1.5" || this.rotating || this.stopped) return;
    this.rotating = true;
    this.counters.rotationPasses++;
    this.pass = this.counters.rotationPasses;
    try {
      const list = this.deps.api.store.list(SPCPS_KEY);
      for (const o of list) {
        if (this.stopped) return;
        await this.reconcileRotation(`${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`);
      }
    } finally {
      this.rotating = false;
    }
  }

  private async reconcileRotation(key: string): Promise<void> {
    const api = this.deps.api;
    const slash = key.indexOf("/");
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const spcps = api.store.get(SPCPS_KEY, ns, name) as SecretProviderClassPodStatus | undefined;
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
    const spc = api.store.get(SPC_KEY, ns, spcps.status.secretProviderClassName) as
      | SecretProviderClass
      | undefined;
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
        mount.writtenAt = api.clock.now();
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
        // patchSecret's cache Get fails for a Secret the cache does not hold; after the back-off's five
        // tries wait.ExponentialBackoff gives up with its timeout (pkg/rotation/reconciler.go).
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

  /** Merge-patches the Secret's data when it differs; false when the cache does not hold the Secret. */
  private patchSecret(ns: string, name: string, data: Record<string, string>): boolean {
    const api = this.deps.api;
    const rt = api.type("", "secrets");
    const current = this.cachedSecret(ns, name);
    if (!current) return false;
    if (dataSha(current.data) === dataSha(data)) return true;
    api.patch(rt, ns, name, "application/merge-patch+json", JSON.stringify({ data }), {
      fieldManager: DRIVER_MANAGER,
    });
    this.counters.secretRotations++;
    return true;
  }
}
