import { createHash } from "node:crypto";
import type { ClusterApi } from "../api.ts";
import { type LabelRequirement, matchesAll, parseLabelSelector } from "../selectors.ts";
import type { StoreEvent } from "../store.ts";
import type {
  Condition,
  ConfigMap,
  Container,
  ContainerState,
  ContainerStatus,
  Pod,
  PodStatus,
  Secret,
  Volume,
} from "../types.ts";
import { formatGoDuration, rfc3339 } from "../util.ts";
import type { EventRecorder } from "./events.ts";

/**
 * The kubelets of all nodes. A scheduled pod has its volumes set up (secret,
 * configMap, projected, and CSI through the Secrets Store driver when the
 * addon is there), sits in ContainerCreating until they are, pulls images
 * (once per node), resolves env from Secrets and ConfigMaps when each
 * container starts (a missing one gives CreateContainerConfigError and a
 * retry), runs, turns Ready after its readiness delay, and crash-loops with
 * back-off when a fault rule says so. Deleting a pod stops its containers
 * and removes it after the grace period (or sooner once they have exited).
 */

export interface KubeletTiming {
  /** Setting up non-CSI volumes. */
  volumeSetupMs: number;
  /** First pull of an image on a node. */
  imagePullMs: number;
  /** Create and start of a container. */
  containerStartMs: number;
  /** From container start to passing its readiness probe (plus the probe's initialDelaySeconds). */
  readinessMs: number;
  /** How long containers take to exit after SIGTERM (never more than the grace period). */
  terminationMs: number;
  /** How long a crash-looping container runs before it exits. */
  crashAfterMs: number;
  /** Pod worker back-off after an error such as CreateContainerConfigError. */
  syncRetryMs: number;
  /** Volume mount retries: exponential from the first to the cap. */
  mountRetryInitialMs: number;
  mountRetryMaxMs: number;
  /** Crash-loop back-off: 10 s doubling to 5 min. */
  crashBackoffInitialMs: number;
  crashBackoffMaxMs: number;
  /**
   * How often a running pod is synced again (--sync-frequency, 1m by default),
   * each time with up to half of it again as jitter (pkg/kubelet/pod_workers.go
   * wrapUp: wait.Jitter(resyncInterval, workerResyncIntervalJitterFactor=0.5)).
   * Each sync republishes the CSI volumes whose driver requires it.
   */
  syncFrequencyMs: number;
}

export const DEFAULT_KUBELET_TIMING: KubeletTiming = {
  volumeSetupMs: 300,
  imagePullMs: 4000,
  containerStartMs: 600,
  readinessMs: 1500,
  terminationMs: 1500,
  crashAfterMs: 3000,
  syncRetryMs: 10_000,
  mountRetryInitialMs: 500,
  mountRetryMaxMs: 122_000,
  crashBackoffInitialMs: 10_000,
  crashBackoffMaxMs: 300_000,
  syncFrequencyMs: 60_000,
};

/** When a container should crash: any field given must match. */
export interface CrashRule {
  namespace?: string;
  podName?: string;
  /** Label selector on the pod, string form. */
  labelSelector?: string;
  container?: string;
  /** Crash when the container's resolved env has this value (e.g. a rotated secret the app rejects). */
  env?: { name: string; value: string };
  exitCode?: number;
}

/** Where a CSI driver puts the files it mounts for one pod volume. */
export interface CsiPublishTarget {
  targetPath: string;
  files: Map<string, string>;
  /** The driver mounted the path (a later publish is a remount). */
  mounted?: boolean;
  /** When the files were last written (the target path's mtime). */
  writtenAt?: number;
}

export interface CsiNodePlugin {
  readonly driverName: string;
  /** CSIDriver.spec.requiresRepublish: NodePublishVolume again on every pod sync. */
  readonly requiresRepublish: boolean;
  /** NodePublishVolume; throws with the driver's error text when the mount fails. */
  publish(pod: Pod, volume: Volume, target: CsiPublishTarget): Promise<void>;
  unpublish(pod: Pod, volume: Volume, target?: CsiPublishTarget): void;
}

interface ContainerRuntime {
  name: string;
  image: string;
  state: "waiting" | "running" | "terminated";
  waitingReason?: string;
  waitingMessage?: string;
  startedAt?: number;
  ready: boolean;
  started: boolean;
  restartCount: number;
  containerId?: string;
  lastTerminated?: ContainerState["terminated"];
  env?: [string, string][];
}

export interface PodRuntime {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  podIP?: string;
  sandboxReady: boolean;
  startTime: number;
  containers: Map<string, ContainerRuntime>;
  /** Files of each CSI volume, by volume name. */
  mounts: Map<string, CsiPublishTarget>;
  abort: AbortController;
  terminating: boolean;
  restarts: number;
}

interface CrashRuleEntry {
  rule: CrashRule;
  selector: LabelRequirement[];
}

function imageDigest(image: string): string {
  return createHash("sha256").update(image).digest("hex");
}

function imageSize(image: string): number {
  return 20_000_000 + (Number.parseInt(imageDigest(image).slice(0, 6), 16) % 30_000_000);
}

function decode(b64: string): string {
  return Buffer.from(b64, "base64").toString("utf8");
}

/** Container env the way the runtime hands it to the process (os.Environ order). */
const SERVICE_ENV: [string, string][] = [
  ["KUBERNETES_SERVICE_HOST", "10.0.0.1"],
  ["KUBERNETES_SERVICE_PORT", "443"],
  ["KUBERNETES_SERVICE_PORT_HTTPS", "443"],
  ["KUBERNETES_PORT", "tcp://10.0.0.1:443"],
  ["KUBERNETES_PORT_443_TCP", "tcp://10.0.0.1:443"],
  ["KUBERNETES_PORT_443_TCP_PROTO", "tcp"],
  ["KUBERNETES_PORT_443_TCP_PORT", "443"],
  ["KUBERNETES_PORT_443_TCP_ADDR", "10.0.0.1"],
];

class ConfigError extends Error {}

/** Node addresses in the AKS default subnet (10.224.0.0/16), as the nodes report them. */
export function nodeIp(index: number): string {
  return `10.224.0.${4 + index}`;
}

export class Kubelet {
  private readonly api: ClusterApi;
  private readonly events: EventRecorder;
  private readonly timing: KubeletTiming;
  private readonly pods = new Map<string, PodRuntime>();
  private readonly images = new Map<string, Set<string>>();
  private readonly crashRules = new Set<CrashRuleEntry>();
  private readonly unsubscribe: () => void;
  private nextIp = new Map<string, number>();
  private csi: CsiNodePlugin | undefined;
  private stopped = false;
  /** Container restarts ever, for the inventory (pods come and go). */
  restarts = 0;

  private readonly onError: (e: unknown) => void;

  constructor(api: ClusterApi, events: EventRecorder, timing: KubeletTiming, onError: (e: unknown) => void) {
    this.api = api;
    this.events = events;
    this.timing = timing;
    this.onError = onError;
    this.unsubscribe = api.store.onChange((e) => this.onChange(e));
  }

  setCsiPlugin(plugin: CsiNodePlugin | undefined): void {
    this.csi = plugin;
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    for (const r of this.pods.values()) r.abort.abort(new Error("kubelet stopped"));
    this.pods.clear();
  }

  runtime(namespace: string, name: string): PodRuntime | undefined {
    return this.pods.get(`${namespace}/${name}`);
  }

  runtimes(): PodRuntime[] {
    return [...this.pods.values()];
  }

  addCrashRule(rule: CrashRule): () => void {
    const entry: CrashRuleEntry = { rule, selector: parseLabelSelector(rule.labelSelector) };
    this.crashRules.add(entry);
    return () => {
      this.crashRules.delete(entry);
    };
  }

  private crashRuleFor(pod: Pod, c: ContainerRuntime): CrashRule | undefined {
    for (const { rule, selector } of this.crashRules) {
      if (rule.namespace !== undefined && rule.namespace !== pod.metadata.namespace) continue;
      if (rule.podName !== undefined && rule.podName !== pod.metadata.name) continue;
      if (rule.container !== undefined && rule.container !== c.name) continue;
      if (!matchesAll(pod.metadata.labels, selector)) continue;
      if (rule.env && !(c.env ?? []).some(([k, v]) => k === rule.env?.name && v === rule.env.value)) continue;
      return rule;
    }
    return undefined;
  }

  private onChange(e: StoreEvent): void {
    if (e.storageKey !== "core/pods" || this.stopped) return;
    const pod = e.object as Pod;
    const key = `${pod.metadata.namespace ?? ""}/${pod.metadata.name ?? ""}`;
    const existing = this.pods.get(key);
    if (e.type === "DELETED") {
      if (existing && existing.uid === pod.metadata.uid) this.forget(existing, pod);
      return;
    }
    if (existing && existing.uid !== pod.metadata.uid) this.forget(existing, pod);
    const current = this.pods.get(key);
    if (pod.metadata.deletionTimestamp !== undefined) {
      if (current && !current.terminating) this.terminate(current, pod);
      else if (!current) this.finalDelete(pod);
      return;
    }
    if (!current && pod.spec.nodeName) this.admit(pod);
  }

  /** A pod flow ended with an error: expected when the pod went away (aborted), a bug otherwise. */
  private failed(r: PodRuntime, e: unknown): void {
    if (r.abort.signal.aborted || this.stopped) return;
    if (e instanceof Error && e.message === "pod gone") return;
    this.onError(e);
  }

  private forget(r: PodRuntime, pod: Pod): void {
    r.abort.abort(new Error("pod deleted"));
    for (const v of pod.spec?.volumes ?? []) {
      const target = r.mounts.get(v.name);
      if (v.csi && target) this.csi?.unpublish(pod, v, target);
    }
    this.pods.delete(`${r.namespace}/${r.name}`);
  }

  private nodeIndex(node: string): number {
    const nodes = this.api.store
      .list("core/nodes")
      .map((n) => n.metadata.name ?? "")
      .sort();
    return Math.max(0, nodes.indexOf(node));
  }

  private podIp(node: string): string {
    const idx = this.nodeIndex(node);
    const n = (this.nextIp.get(node) ?? 3) + 1;
    this.nextIp.set(node, n > 250 ? 4 : n);
    return `10.244.${idx}.${n}`;
  }

  private admit(pod: Pod): void {
    const r: PodRuntime = {
      namespace: pod.metadata.namespace ?? "",
      name: pod.metadata.name ?? "",
      uid: pod.metadata.uid ?? "",
      node: pod.spec.nodeName ?? "",
      sandboxReady: false,
      startTime: this.api.clock.now(),
      containers: new Map(),
      mounts: new Map(),
      abort: new AbortController(),
      terminating: false,
      restarts: 0,
    };
    for (const c of pod.spec.containers) {
      r.containers.set(c.name, {
        name: c.name,
        image: c.image ?? "",
        state: "waiting",
        waitingReason: "ContainerCreating",
        ready: false,
        started: false,
        restartCount: 0,
      });
    }
    this.pods.set(`${r.namespace}/${r.name}`, r);
    this.writeStatus(r);
    this.run(r).catch((e: unknown) => this.failed(r, e));
  }

  private current(r: PodRuntime): Pod | undefined {
    const p = this.api.store.get("core/pods", r.namespace, r.name) as Pod | undefined;
    return p && p.metadata.uid === r.uid ? p : undefined;
  }

  private sleep(r: PodRuntime, ms: number): Promise<void> {
    return this.api.clock.sleep(ms, r.abort.signal);
  }

  private source(r: PodRuntime) {
    return { component: "kubelet", host: r.node };
  }

  private async run(r: PodRuntime): Promise<void> {
    await this.mountVolumes(r);
    r.sandboxReady = true;
    r.podIP = this.podIp(r.node);
    this.writeStatus(r);
    const pod = this.current(r);
    if (!pod) return;
    if (r.mounts.size > 0) this.resyncLoop(r).catch((e: unknown) => this.failed(r, e));
    for (const c of pod.spec.containers) {
      await this.startContainer(r, c);
    }
  }

  /** The pod worker's periodic sync, as far as volumes go: republish what the driver asks for. */
  private async resyncLoop(r: PodRuntime): Promise<void> {
    // A fixed per-pod jitter in [0, 0.5) of the period, so runs replay but pods do not sync in step.
    const jitter = Number.parseInt(imageDigest(r.uid).slice(0, 8), 16) / 0x1_0000_0000 / 2;
    for (;;) {
      await this.sleep(r, this.timing.syncFrequencyMs * (1 + jitter));
      if (r.terminating) return;
      await this.republish(r);
    }
  }

  /** NodePublishVolume again for each mounted CSI volume whose driver requires republishing. */
  private async republish(r: PodRuntime): Promise<void> {
    const plugin = this.csi;
    const pod = this.current(r);
    if (!plugin?.requiresRepublish || !pod || r.terminating) return;
    for (const v of pod.spec.volumes ?? []) {
      const target = r.mounts.get(v.name);
      if (!v.csi || v.csi.driver !== plugin.driverName || !target) continue;
      try {
        await plugin.publish(pod, v, target);
      } catch (e) {
        if (r.abort.signal.aborted) throw e;
        this.events.record(
          pod,
          "Warning",
          "FailedMount",
          `MountVolume.SetUp failed for volume "${v.name}" : ${(e as Error).message}`,
          this.source(r),
        );
      }
    }
  }

  /** Republishes every running pod's CSI volumes now (a sync of every pod, as a kubelet restart would). */
  async republishAll(): Promise<void> {
    const running = [...this.pods.values()].filter((r) => r.sandboxReady && !r.terminating);
    for (const r of running) {
      try {
        await this.republish(r);
      } catch (e) {
        this.failed(r, e);
      }
    }
  }

  /**
   * WaitForAttachAndMount until every volume is set up, each failure a
   * FailedMount event and a retry with back-off. When the wait times out
   * (2m3s) the 1.33 kubelet records nothing more: SyncPod skips its "Unable
   * to attach or mount volumes" event for an interrupted wait
   * (kubernetes/kubernetes pkg/kubelet/kubelet.go SyncPod: `if
   * !wait.Interrupted(err)`), so only the FailedMount events of the
   * individual volumes show, and the pod is synced again.
   */
  private async mountVolumes(r: PodRuntime): Promise<void> {
    await this.sleep(r, this.timing.volumeSetupMs);
    const pending = new Map<string, number>();
    for (;;) {
      const pod = this.current(r);
      if (!pod) throw new Error("pod gone");
      const unmounted: string[] = [];
      let nextRetry = Number.POSITIVE_INFINITY;
      for (const v of pod.spec.volumes ?? []) {
        if (r.mounts.has(v.name) || (pending.get(v.name) ?? 0) < 0) continue;
        const error = await this.setUpVolume(r, pod, v);
        if (error === undefined) {
          pending.set(v.name, -1);
          continue;
        }
        unmounted.push(v.name);
        this.events.record(
          pod,
          "Warning",
          "FailedMount",
          `MountVolume.SetUp failed for volume "${v.name}" : ${error}`,
          this.source(r),
        );
        const attempt = (pending.get(v.name) ?? 0) + 1;
        pending.set(v.name, attempt);
        const delay = Math.min(
          this.timing.mountRetryInitialMs * 2 ** (attempt - 1),
          this.timing.mountRetryMaxMs,
        );
        nextRetry = Math.min(nextRetry, delay);
      }
      if (unmounted.length === 0) return;
      await this.sleep(r, nextRetry);
    }
  }

  /** Sets up one volume; returns the error text when it cannot be. */
  private async setUpVolume(r: PodRuntime, pod: Pod, v: Volume): Promise<string | undefined> {
    const ns = r.namespace;
    if (v.secret) {
      const name = v.secret.secretName ?? "";
      if (!this.api.store.get("core/secrets", ns, name) && v.secret.optional !== true)
        return `secret "${name}" not found`;
      return undefined;
    }
    if (v.configMap) {
      const name = v.configMap.name ?? "";
      if (!this.api.store.get("core/configmaps", ns, name) && v.configMap.optional !== true) {
        return `configmap "${name}" not found`;
      }
      return undefined;
    }
    if (v.csi) {
      const plugin = this.csi;
      if (!plugin || plugin.driverName !== v.csi.driver) {
        return `kubernetes.io/csi: mounter.SetUpAt failed to get CSI client: driver name ${v.csi.driver} not found in the list of registered CSI drivers`;
      }
      const target: CsiPublishTarget = {
        targetPath: `/var/lib/kubelet/pods/${r.uid}/volumes/kubernetes.io~csi/${v.name}/mount`,
        files: new Map(),
      };
      try {
        await plugin.publish(pod, v, target);
      } catch (e) {
        if (r.abort.signal.aborted) throw e;
        return (e as Error).message;
      }
      r.mounts.set(v.name, target);
      return undefined;
    }
    return undefined;
  }

  private resolveEnv(pod: Pod, c: Container): [string, string][] {
    const ns = pod.metadata.namespace ?? "";
    const out: [string, string][] = [];
    const secret = (name: string) => this.api.store.get("core/secrets", ns, name) as Secret | undefined;
    const configMap = (name: string) =>
      this.api.store.get("core/configmaps", ns, name) as ConfigMap | undefined;
    for (const from of c.envFrom ?? []) {
      const prefix = from.prefix ?? "";
      if (from.secretRef) {
        const s = secret(from.secretRef.name ?? "");
        if (!s) {
          if (from.secretRef.optional) continue;
          throw new ConfigError(`secret "${from.secretRef.name ?? ""}" not found`);
        }
        for (const [k, v] of Object.entries(s.data ?? {})) out.push([prefix + k, decode(v)]);
      }
      if (from.configMapRef) {
        const cm = configMap(from.configMapRef.name ?? "");
        if (!cm) {
          if (from.configMapRef.optional) continue;
          throw new ConfigError(`configmap "${from.configMapRef.name ?? ""}" not found`);
        }
        for (const [k, v] of Object.entries(cm.data ?? {})) out.push([prefix + k, v]);
      }
    }
    const r = this.runtime(ns, pod.metadata.name ?? "");
    for (const e of c.env ?? []) {
      let value: string | undefined = e.value ?? "";
      const vf = e.valueFrom;
      if (vf?.secretKeyRef) {
        const ref = vf.secretKeyRef;
        const s = secret(ref.name ?? "");
        if (!s) {
          if (ref.optional) continue;
          throw new ConfigError(`secret "${ref.name ?? ""}" not found`);
        }
        const raw = s.data?.[ref.key];
        if (raw === undefined) {
          if (ref.optional) continue;
          throw new ConfigError(`couldn't find key ${ref.key} in Secret ${ns}/${ref.name ?? ""}`);
        }
        value = decode(raw);
      } else if (vf?.configMapKeyRef) {
        const ref = vf.configMapKeyRef;
        const cm = configMap(ref.name ?? "");
        if (!cm) {
          if (ref.optional) continue;
          throw new ConfigError(`configmap "${ref.name ?? ""}" not found`);
        }
        value = cm.data?.[ref.key];
        if (value === undefined) {
          if (ref.optional) continue;
          throw new ConfigError(`couldn't find key ${ref.key} in ConfigMap ${ns}/${ref.name ?? ""}`);
        }
      } else if (vf?.fieldRef) {
        const path = vf.fieldRef.fieldPath;
        const fields: Record<string, string> = {
          "metadata.name": pod.metadata.name ?? "",
          "metadata.namespace": ns,
          "metadata.uid": pod.metadata.uid ?? "",
          "spec.nodeName": pod.spec.nodeName ?? "",
          "spec.serviceAccountName": pod.spec.serviceAccountName ?? "",
          "status.podIP": r?.podIP ?? "",
          "status.hostIP": nodeIp(this.nodeIndex(pod.spec.nodeName ?? "")),
        };
        const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
        if (m?.[1] && m[2]) {
          value = (m[1] === "labels" ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]] ?? "";
        } else value = fields[path] ?? "";
      }
      out.push([e.name, value]);
    }
    if (pod.spec.enableServiceLinks !== false) out.push(...SERVICE_ENV);
    return out;
  }

  private async pullImage(r: PodRuntime, pod: Pod, c: Container): Promise<void> {
    const image = c.image ?? "";
    const fieldPath = `spec.containers{${c.name}}`;
    const cached = this.images.get(r.node) ?? new Set<string>();
    this.images.set(r.node, cached);
    if (cached.has(image) && c.imagePullPolicy !== "Always") {
      this.events.record(
        pod,
        "Normal",
        "Pulled",
        `Container image "${image}" already present on machine`,
        this.source(r),
        fieldPath,
      );
      return;
    }
    this.events.record(pod, "Normal", "Pulling", `Pulling image "${image}"`, this.source(r), fieldPath);
    const ms = cached.has(image) ? Math.min(500, this.timing.imagePullMs) : this.timing.imagePullMs;
    await this.sleep(r, ms);
    cached.add(image);
    const took = formatGoDuration(ms);
    this.events.record(
      pod,
      "Normal",
      "Pulled",
      `Successfully pulled image "${image}" in ${took} (${took} including waiting). Image size: ${imageSize(image)} bytes.`,
      this.source(r),
      fieldPath,
    );
  }

  private async startContainer(r: PodRuntime, c: Container): Promise<void> {
    const cr = r.containers.get(c.name);
    if (!cr) return;
    const fieldPath = `spec.containers{${c.name}}`;
    let pod = this.current(r);
    if (!pod) return;
    await this.pullImage(r, pod, c);
    // Env is resolved when the container is created: a Secret changed later is not seen until a restart.
    for (;;) {
      pod = this.current(r);
      if (!pod) return;
      try {
        cr.env = this.resolveEnv(pod, c);
        break;
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        cr.state = "waiting";
        cr.waitingReason = "CreateContainerConfigError";
        cr.waitingMessage = e.message;
        this.writeStatus(r);
        this.events.record(pod, "Warning", "Failed", `Error: ${e.message}`, this.source(r), fieldPath);
        await this.sleep(r, this.timing.syncRetryMs);
      }
    }
    await this.sleep(r, this.timing.containerStartMs);
    pod = this.current(r);
    if (!pod) return;
    this.events.record(pod, "Normal", "Created", `Created container: ${c.name}`, this.source(r), fieldPath);
    this.events.record(pod, "Normal", "Started", `Started container ${c.name}`, this.source(r), fieldPath);
    cr.state = "running";
    cr.started = true;
    cr.startedAt = this.api.clock.now();
    cr.containerId = `containerd://${createHash("sha256").update(`${r.uid}/${c.name}/${cr.restartCount}`).digest("hex")}`;
    delete cr.waitingReason;
    delete cr.waitingMessage;
    const crash = this.crashRuleFor(pod, cr);
    cr.ready = !c.readinessProbe && !crash;
    this.writeStatus(r);
    if (crash) {
      this.crashLoop(r, c, crash).catch((e: unknown) => this.failed(r, e));
      return;
    }
    if (c.readinessProbe) {
      const initial = (c.readinessProbe.initialDelaySeconds ?? 0) * 1000;
      this.becomeReady(r, cr, initial + this.timing.readinessMs).catch((e: unknown) => this.failed(r, e));
    }
  }

  private async becomeReady(r: PodRuntime, cr: ContainerRuntime, ms: number): Promise<void> {
    await this.sleep(r, ms);
    if (cr.state !== "running") return;
    cr.ready = true;
    this.writeStatus(r);
  }

  private async crashLoop(r: PodRuntime, c: Container, rule: CrashRule): Promise<void> {
    const cr = r.containers.get(c.name);
    if (!cr) return;
    await this.sleep(r, this.timing.crashAfterMs);
    const pod = this.current(r);
    if (!pod) return;
    const now = this.api.clock.now();
    cr.lastTerminated = {
      exitCode: rule.exitCode ?? 1,
      reason: "Error",
      startedAt: rfc3339(cr.startedAt ?? now),
      finishedAt: rfc3339(now),
      containerID: cr.containerId ?? "",
    };
    cr.state = "waiting";
    cr.ready = false;
    cr.started = false;
    const backoff = Math.min(
      this.timing.crashBackoffInitialMs * 2 ** cr.restartCount,
      this.timing.crashBackoffMaxMs,
    );
    cr.restartCount += 1;
    r.restarts += 1;
    this.restarts += 1;
    cr.waitingReason = "CrashLoopBackOff";
    cr.waitingMessage = `back-off ${formatGoDuration(backoff)} restarting failed container=${c.name} pod=${r.name}_${r.namespace}(${r.uid})`;
    this.writeStatus(r);
    this.events.record(
      pod,
      "Warning",
      "BackOff",
      `Back-off restarting failed container ${c.name} in pod ${r.name}_${r.namespace}(${r.uid})`,
      this.source(r),
      `spec.containers{${c.name}}`,
    );
    await this.sleep(r, backoff);
    await this.startContainer(r, c);
  }

  private terminate(r: PodRuntime, pod: Pod): void {
    r.terminating = true;
    r.abort.abort(new Error("pod terminating"));
    for (const c of r.containers.values()) {
      if (c.state !== "running") continue;
      this.events.record(
        pod,
        "Normal",
        "Killing",
        `Stopping container ${c.name}`,
        this.source(r),
        `spec.containers{${c.name}}`,
      );
    }
    const grace = (pod.metadata.deletionGracePeriodSeconds ?? 30) * 1000;
    const ms = Math.min(this.timing.terminationMs, grace);
    this.api.clock.schedule(ms, () => {
      if (this.stopped) return;
      for (const v of pod.spec.volumes ?? []) if (v.csi && r.mounts.has(v.name)) this.csi?.unpublish(pod, v);
      r.mounts.clear();
      this.pods.delete(`${r.namespace}/${r.name}`);
      const latest = this.current(r);
      if (latest) this.finalDelete(latest);
    });
  }

  private finalDelete(pod: Pod): void {
    try {
      this.api.delete(this.api.type("", "pods"), pod.metadata.namespace, pod.metadata.name ?? "", {
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata.uid ?? "" },
      });
    } catch {
      // Gone already, or replaced by a pod of the same name: nothing left to remove.
    }
  }

  private writeStatus(r: PodRuntime): void {
    if (r.terminating || this.stopped) return;
    const podRt = this.api.type("", "pods");
    const nowIso = rfc3339(this.api.clock.now());
    this.api.mutate(
      podRt,
      r.namespace,
      r.name,
      (o) => {
        const pod = o as Pod;
        if (pod.metadata.uid !== r.uid || pod.metadata.deletionTimestamp !== undefined) return false;
        const prev = pod.status ?? {};
        const containers = [...r.containers.values()];
        const statuses: ContainerStatus[] = containers.map((c) => {
          const state: ContainerState =
            c.state === "running"
              ? { running: { startedAt: rfc3339(c.startedAt ?? this.api.clock.now()) } }
              : c.state === "waiting"
                ? {
                    waiting: c.waitingMessage
                      ? { reason: c.waitingReason ?? "", message: c.waitingMessage }
                      : { reason: c.waitingReason ?? "" },
                  }
                : { terminated: c.lastTerminated ?? { exitCode: 0 } };
          const s: ContainerStatus = {
            name: c.name,
            image: c.image,
            imageID:
              c.containerId || c.restartCount > 0
                ? `${c.image.split(":")[0] ?? c.image}@sha256:${imageDigest(c.image)}`
                : "",
            ready: c.ready,
            started: c.started,
            restartCount: c.restartCount,
            state,
            lastState: c.lastTerminated ? { terminated: c.lastTerminated } : {},
          };
          if (c.containerId) s.containerID = c.containerId;
          return s;
        });
        const allReady = containers.every((c) => c.ready);
        const unready = containers.filter((c) => !c.ready).map((c) => c.name);
        const anyStarted = containers.some((c) => c.started || c.restartCount > 0);
        const cond = (type: string, ok: boolean, reason?: string, message?: string): Condition => {
          const old = prev.conditions?.find((c) => c.type === type);
          const status = ok ? "True" : "False";
          const c: Condition = {
            type,
            status,
            lastProbeTime: null,
            lastTransitionTime: old && old.status === status ? (old.lastTransitionTime ?? nowIso) : nowIso,
          };
          if (!ok && reason) c.reason = reason;
          if (!ok && message) c.message = message;
          return c;
        };
        const scheduled = prev.conditions?.find((c) => c.type === "PodScheduled");
        const notReady = `containers with unready status: [${unready.join(" ")}]`;
        const conditions: Condition[] = [
          cond("PodReadyToStartContainers", r.sandboxReady),
          cond("Initialized", true),
          cond("Ready", allReady, "ContainersNotReady", notReady),
          cond("ContainersReady", allReady, "ContainersNotReady", notReady),
        ];
        if (scheduled) conditions.push(scheduled);
        const status: PodStatus = {
          ...prev,
          phase: anyStarted ? "Running" : "Pending",
          conditions,
          hostIP: nodeIp(this.nodeIndex(r.node)),
          hostIPs: [{ ip: nodeIp(this.nodeIndex(r.node)) }],
          startTime: rfc3339(r.startTime),
          containerStatuses: statuses,
        };
        if (r.podIP) {
          status.podIP = r.podIP;
          status.podIPs = [{ ip: r.podIP }];
        }
        pod.status = status;
        return true;
      },
      { fieldManager: "kubelet", subresource: "status" },
    );
  }
}
