import { createHash } from "node:crypto";
import type { EmulatorClock } from "../shared/clock.ts";
import type { AzureWorldLink, ClusterInfo } from "../shared/world.ts";
import { type AdmissionPlugin, ClusterApi, selectableOf } from "./api.ts";
import type { AzureHttpClient } from "./azure-http.ts";
import { AzureKeyVaultProvider } from "./controllers/azure-provider.ts";
import { CSI_DRIVER_IMAGES, type CsiDriverRelease, SecretsStoreCsiDriver } from "./controllers/csi.ts";
import { DaemonSetController } from "./controllers/daemonset.ts";
import { DeploymentController } from "./controllers/deployment.ts";
import { EventRecorder } from "./controllers/events.ts";
import { GarbageCollector } from "./controllers/gc.ts";
import { type CrashRule, Kubelet, type KubeletTiming, nodeIp } from "./controllers/kubelet.ts";
import { isPodReady } from "./controllers/pods.ts";
import { ReloaderController } from "./controllers/reloader.ts";
import { ReplicaSetController } from "./controllers/replicaset.ts";
import { Scheduler } from "./controllers/scheduler.ts";
import { forbidden, notFound } from "./errors.ts";
import type { KubeChaos } from "./faults.ts";
import { isPodinfo, podinfoLog, podinfoRespond } from "./podinfo.ts";
import type { ResourceType } from "./resources.ts";
import { KubeHttpHandler, type ProxyResult } from "./server.ts";
import type { StoreEvent } from "./store.ts";
import { ObjectStore } from "./store.ts";
import type { Container, KubeObject, Pod, PodSpec, ServiceAccount, Volume } from "./types.ts";
import { isPlainObject, randomSuffix, rfc3339 } from "./util.ts";

/**
 * One emulated AKS cluster: its store and API server, its controllers on the
 * emulator clock, the kube-system add-ons, and the admission AKS adds
 * (service-account tokens, the workload identity webhook). The HTTP side is
 * attached by the emulator, which owns the listening sockets.
 */

export interface KubeClusterOptions {
  info: ClusterInfo;
  azure: AzureWorldLink;
  /** Read in emulated time (emulatedTimeline): controllers, kubelet, events and API timestamps. */
  clock: EmulatorClock;
  /** The Secrets Store CSI driver release the Key Vault addon runs. */
  csiDriver: CsiDriverRelease;
  http: AzureHttpClient;
  timing: KubeletTiming;
  watchCacheSize: number;
  schedulerDelayMs: number;
  token: string;
  server: string;
  caPem: string;
  /** The emulator's chaos mode (shared by all clusters); none when absent. */
  chaos?: KubeChaos;
  /** Emulator-wide request and fault counters. */
  counters?: { requests: number; faultsInjected: number };
}

export interface ClusterInventory {
  cluster: { id: string; name: string; resourceGroup: string; server: string; kubernetesVersion: string };
  objects: Record<string, number>;
  created: Record<string, number>;
  deleted: Record<string, number>;
  pods: {
    total: number;
    pending: number;
    running: number;
    ready: number;
    terminating: number;
    crashLooping: number;
  };
  rollouts: number;
  reloads: number;
  restarts: number;
  csi: {
    enabled: boolean;
    /** The driver release ("1.5": rotation reconciler, "1.6": rotation on the kubelet's republish). */
    driver: CsiDriverRelease;
    rotation: boolean;
    rotationPollInterval: string;
    rotationPasses: number;
    lastMountRotationPass: number;
    mounts: number;
    mountFailures: number;
    rotationPolls: number;
    republishes: number;
    mountRotations: number;
    secretRotations: number;
    rotationFailures: number;
    tokenRequests: number;
    vaultRequests: number;
  };
  reloaderActive: boolean;
  watches: number;
  requests: Record<string, number>;
  events: Record<string, number>;
  revision: number;
  errors: string[];
}

const CLIENT_ID = "azure.workload.identity/client-id";
const TENANT_ID = "azure.workload.identity/tenant-id";
const USE_LABEL = "azure.workload.identity/use";

function nodeNames(info: ClusterInfo): string[] {
  const digits = String(
    Number.parseInt(
      createHash("sha256")
        .update(info.clusterGuid || info.id)
        .digest("hex")
        .slice(0, 8),
      16,
    ) % 100_000_000,
  ).padStart(8, "0");
  const out: string[] = [];
  for (let i = 0; i < Math.max(1, info.nodeCount); i++)
    out.push(`aks-nodepool1-${digits}-vmss${String(i).padStart(6, "0")}`);
  return out;
}

export class KubeCluster {
  info: ClusterInfo;
  readonly store: ObjectStore;
  readonly api: ClusterApi;
  readonly events: EventRecorder;
  readonly kubelet: Kubelet;
  readonly handler: KubeHttpHandler;
  readonly token: string;
  readonly server: string;
  readonly caPem: string;
  readonly csiDriver: CsiDriverRelease;
  private readonly azure: AzureWorldLink;
  private readonly gc: GarbageCollector;
  private readonly replicasets: ReplicaSetController;
  private readonly deployments: DeploymentController;
  private readonly daemonsets: DaemonSetController;
  private readonly scheduler: Scheduler;
  private readonly reloader: ReloaderController;
  private readonly provider: AzureKeyVaultProvider;
  private csi: SecretsStoreCsiDriver | undefined;
  private readonly unsubscribe: () => void;
  private readonly errors: string[] = [];

  constructor(o: KubeClusterOptions) {
    this.info = o.info;
    this.azure = o.azure;
    this.token = o.token;
    this.server = o.server;
    this.caPem = o.caPem;
    this.csiDriver = o.csiDriver;
    this.store = new ObjectStore(selectableOf, o.watchCacheSize);
    this.api = new ClusterApi(this.store, o.clock);
    this.events = new EventRecorder(this.api);
    this.gc = new GarbageCollector(this.api);
    this.replicasets = new ReplicaSetController(this.api, this.events);
    this.deployments = new DeploymentController(this.api, this.events);
    this.daemonsets = new DaemonSetController(this.api, this.events);
    this.scheduler = new Scheduler(this.api, this.events, o.schedulerDelayMs);
    this.kubelet = new Kubelet(this.api, this.events, o.timing, (e) => this.recordError(e));
    this.reloader = new ReloaderController(this.api, this.events);
    this.provider = new AzureKeyVaultProvider(o.http, {
      authorityHost: o.azure.authorityHost,
      vaultUri: (name) => o.azure.vaultUri(name),
    });
    this.api.addAdmission(this.serviceAccountAdmission);
    this.api.addAdmission(this.workloadIdentityWebhook);
    this.unsubscribe = this.store.onChange((e) => this.onChange(e));
    this.handler = new KubeHttpHandler(
      this.api,
      {
        podProxy: (ns, spec, path) => this.podProxy(ns, spec, path),
        podLog: (ns, name, container) => this.podLog(ns, name, container),
        tokenRequest: (ns, sa, body) => this.tokenRequest(ns, sa, body),
        emulatorRoute: (path, q) => this.emulatorRoute(path, q),
      },
      {
        token: o.token,
        kubernetesVersion: o.info.kubernetesVersion || "1.33.0",
        clock: o.clock,
        serverAddress: `${o.info.name}-dns.hcp.${o.info.location}.azmk8s.io:443`,
        clusterName: o.info.name,
        ...(o.chaos ? { chaos: o.chaos } : {}),
        ...(o.counters ? { counters: o.counters } : {}),
      },
    );
    this.bootstrap();
    this.applyAddon();
  }

  private recordError(e: unknown): void {
    const text = e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e);
    this.errors.push(text);
    if (this.errors.length > 20) this.errors.shift();
  }

  private rt(group: string, resource: string): ResourceType {
    return this.api.type(group, resource);
  }

  private create(
    group: string,
    resource: string,
    ns: string | undefined,
    obj: KubeObject,
    manager: string,
  ): void {
    this.api.create(this.rt(group, resource), ns, obj, { fieldManager: manager });
  }

  // --- bootstrap ---

  private bootstrap(): void {
    for (const ns of ["default", "kube-node-lease", "kube-public", "kube-system"]) {
      this.create(
        "",
        "namespaces",
        undefined,
        { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
        "kube-apiserver",
      );
      this.fillNamespace(ns);
    }
    this.syncNodes();
    this.create(
      "",
      "serviceaccounts",
      "kube-system",
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "coredns", namespace: "kube-system" } },
      "kube-addon-manager",
    );
    const corednsLabels = { "k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", version: "v20" };
    this.create(
      "apps",
      "deployments",
      "kube-system",
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: {
          name: "coredns",
          namespace: "kube-system",
          labels: { ...corednsLabels, "addonmanager.kubernetes.io/mode": "Reconcile" },
        },
        spec: {
          replicas: 2,
          selector: { matchLabels: { "k8s-app": "kube-dns", version: "v20" } },
          template: {
            metadata: { labels: corednsLabels },
            spec: {
              serviceAccountName: "coredns",
              priorityClassName: "system-node-critical",
              containers: [
                {
                  name: "coredns",
                  image: "mcr.microsoft.com/oss/v2/kubernetes/coredns:v1.12.1-1",
                  args: ["-conf", "/etc/coredns/Corefile"],
                  ports: [
                    { name: "dns", containerPort: 53, protocol: "UDP" },
                    { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
                  ],
                },
              ],
            },
          },
        },
      },
      "kube-addon-manager",
    );
  }

  private syncNodes(): void {
    const nodeRt = this.rt("", "nodes");
    const want = nodeNames(this.info);
    const have = this.store.list(nodeRt.storageKey).map((n) => n.metadata.name ?? "");
    want.forEach((name, i) => {
      if (have.includes(name)) return;
      const ip = nodeIp(i);
      this.create(
        "",
        "nodes",
        undefined,
        {
          apiVersion: "v1",
          kind: "Node",
          metadata: {
            name,
            labels: {
              "kubernetes.io/hostname": name,
              "kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64",
              "node.kubernetes.io/instance-type": "Standard_B2s",
              "kubernetes.azure.com/agentpool": "nodepool1",
              "kubernetes.azure.com/cluster": this.info.nodeResourceGroup,
              "topology.kubernetes.io/region": this.info.location,
              "topology.kubernetes.io/zone": "0",
            },
          },
          spec: {
            providerID: `azure:///subscriptions/${this.info.subscriptionId}/resourceGroups/${this.info.nodeResourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets/${name.slice(0, -6)}/virtualMachines/${i}`,
            podCIDR: `10.244.${i}.0/24`,
          },
          status: {
            capacity: { cpu: "2", memory: "4025892Ki", pods: "110", "ephemeral-storage": "129886128Ki" },
            allocatable: {
              cpu: "1900m",
              memory: "2209316Ki",
              pods: "110",
              "ephemeral-storage": "119703055367",
            },
            conditions: [
              {
                type: "Ready",
                status: "True",
                reason: "KubeletReady",
                message: "kubelet is posting ready status",
                lastHeartbeatTime: rfc3339(this.api.clock.now()),
                lastTransitionTime: rfc3339(this.api.clock.now()),
              },
            ],
            addresses: [
              { type: "InternalIP", address: ip },
              { type: "Hostname", address: name },
            ],
            nodeInfo: {
              kubeletVersion: `v${this.info.kubernetesVersion || "1.33.0"}`,
              kubeProxyVersion: `v${this.info.kubernetesVersion || "1.33.0"}`,
              containerRuntimeVersion: "containerd://1.7.27-1",
              osImage: "Ubuntu 22.04.5 LTS",
              kernelVersion: "5.15.0-1089-azure",
              operatingSystem: "linux",
              architecture: "amd64",
            },
          },
        },
        "kubelet",
      );
    });
    for (const name of have) {
      if (want.includes(name)) continue;
      try {
        this.api.delete(nodeRt, undefined, name);
      } catch {
        // Already gone.
      }
    }
  }

  /** The Key Vault secrets provider addon: CRDs, driver pods, the driver and its rotation reconciler. */
  private applyAddon(): void {
    const addon = this.info.keyVaultAddon;
    const enabled = addon?.enabled === true;
    if (enabled) {
      this.api.csiCrdsInstalled = true;
      if (!this.csi) {
        this.csi = new SecretsStoreCsiDriver({
          api: this.api,
          events: this.events,
          kubelet: this.kubelet,
          provider: this.provider,
          release: this.csiDriver,
          serviceAccountToken: (namespace, serviceAccount, audience) =>
            this.azure.signServiceAccountToken(this.info.id, {
              namespace,
              serviceAccount,
              audience,
              expiresInSeconds: 3600,
            }),
          onError: (e) => this.recordError(e),
        });
      }
      this.csi.configure(addon);
      this.kubelet.setCsiPlugin(this.csi);
    } else if (this.csi) {
      this.csi.stop();
      this.csi = undefined;
      this.kubelet.setCsiPlugin(undefined);
    }
    this.syncAddonDaemonSets(enabled);
  }

  private syncAddonDaemonSets(enabled: boolean): void {
    const dsRt = this.rt("apps", "daemonsets");
    const sets: { name: string; label: string; image: string }[] = [
      {
        name: "aks-secrets-store-csi-driver",
        label: "secrets-store-csi-driver",
        image: CSI_DRIVER_IMAGES[this.csiDriver],
      },
      {
        name: "aks-secrets-store-provider-azure",
        label: "csi-secrets-store-provider-azure",
        image: "mcr.microsoft.com/oss/v2/azure/secrets-store/provider-azure:v1.7.0",
      },
    ];
    for (const s of sets) {
      const exists = this.store.get(dsRt.storageKey, "kube-system", s.name);
      if (enabled && !exists) {
        this.create(
          "apps",
          "daemonsets",
          "kube-system",
          {
            apiVersion: "apps/v1",
            kind: "DaemonSet",
            metadata: {
              name: s.name,
              namespace: "kube-system",
              labels: { app: s.label, "kubernetes.azure.com/managedby": "aks" },
            },
            spec: {
              selector: { matchLabels: { app: s.label } },
              template: {
                metadata: { labels: { app: s.label, "kubernetes.azure.com/managedby": "aks" } },
                spec: { containers: [{ name: s.label, image: s.image }], serviceAccountName: "default" },
              },
            },
          },
          "aks",
        );
      } else if (!enabled && exists) {
        try {
          this.api.delete(dsRt, "kube-system", s.name);
        } catch {
          // Already gone.
        }
      }
    }
  }

  /** The Azure side announced a change (addon, node count, …). */
  update(info: ClusterInfo): void {
    this.info = info;
    this.syncNodes();
    this.applyAddon();
  }

  // --- namespace lifecycle side effects ---

  private onChange(e: StoreEvent): void {
    if (e.storageKey === "core/namespaces" && e.type === "ADDED") {
      // The service account and root CA publisher controllers fill every new namespace.
      const ns = e.object.metadata.name ?? "";
      this.api.clock.schedule(0, () => this.fillNamespace(ns));
    }
  }

  private fillNamespace(ns: string): void {
    const nsObj = this.store.get("core/namespaces", undefined, ns);
    if (!nsObj || nsObj.metadata.deletionTimestamp !== undefined) return;
    try {
      if (!this.store.get("core/serviceaccounts", ns, "default")) {
        this.create(
          "",
          "serviceaccounts",
          ns,
          { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: ns } },
          "kube-controller-manager",
        );
      }
      if (!this.store.get("core/configmaps", ns, "kube-root-ca.crt")) {
        this.create(
          "",
          "configmaps",
          ns,
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: {
              name: "kube-root-ca.crt",
              namespace: ns,
              annotations: {
                "kubernetes.io/description":
                  "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.",
              },
            },
            data: { "ca.crt": this.caPem },
          },
          "kube-controller-manager",
        );
      }
    } catch (e) {
      this.recordError(e);
    }
  }

  // --- admission ---

  /** ServiceAccount admission: the pod's service account must exist; its token volume is added. */
  private readonly serviceAccountAdmission: AdmissionPlugin = (op, rt, obj) => {
    if (op !== "CREATE" || rt.kind !== "Pod") return;
    const pod = obj as Pod;
    const ns = pod.metadata.namespace ?? "";
    const saName = pod.spec.serviceAccountName ?? "default";
    const sa = this.store.get("core/serviceaccounts", ns, saName);
    if (!sa) {
      throw forbidden(
        rt,
        pod.metadata.name || pod.metadata.generateName || "",
        `error looking up service account ${ns}/${saName}: serviceaccount "${saName}" not found`,
      );
    }
    if (pod.spec.automountServiceAccountToken === false) return;
    const volumes = pod.spec.volumes ?? [];
    if (volumes.some((v) => v.name.startsWith("kube-api-access-"))) return;
    const volName = `kube-api-access-${randomSuffix(5)}`;
    volumes.push({
      name: volName,
      projected: {
        defaultMode: 420,
        sources: [
          { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
          { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
          {
            downwardAPI: {
              items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }],
            },
          },
        ],
      },
    });
    pod.spec.volumes = volumes;
    for (const c of pod.spec.containers) {
      c.volumeMounts = [
        ...(c.volumeMounts ?? []),
        { name: volName, mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true },
      ];
    }
  };

  /** The AKS workload identity webhook: pods opting in get the Azure env and the projected token. */
  private readonly workloadIdentityWebhook: AdmissionPlugin = (op, rt, obj) => {
    if (op !== "CREATE" || rt.kind !== "Pod" || !this.info.workloadIdentityEnabled) return;
    const pod = obj as Pod;
    if (pod.metadata.labels?.[USE_LABEL] !== "true") return;
    const ns = pod.metadata.namespace ?? "";
    const sa = this.store.get("core/serviceaccounts", ns, pod.spec.serviceAccountName ?? "default") as
      | ServiceAccount
      | undefined;
    const clientId = sa?.metadata.annotations?.[CLIENT_ID];
    const tenantId = sa?.metadata.annotations?.[TENANT_ID] ?? this.azure.tenantId;
    const env: { name: string; value: string }[] = [];
    if (clientId) env.push({ name: "AZURE_CLIENT_ID", value: clientId });
    env.push(
      { name: "AZURE_TENANT_ID", value: tenantId },
      { name: "AZURE_FEDERATED_TOKEN_FILE", value: "/var/run/secrets/azure/tokens/azure-identity-token" },
      { name: "AZURE_AUTHORITY_HOST", value: `${this.azure.authorityHost.replace(/\/+$/, "")}/` },
    );
    const spec = pod.spec as PodSpec;
    for (const c of spec.containers as Container[]) {
      const names = new Set((c.env ?? []).map((e) => e.name));
      c.env = [...(c.env ?? []), ...env.filter((e) => !names.has(e.name))];
      if (!(c.volumeMounts ?? []).some((m) => m.name === "azure-identity-token")) {
        c.volumeMounts = [
          ...(c.volumeMounts ?? []),
          { name: "azure-identity-token", mountPath: "/var/run/secrets/azure/tokens", readOnly: true },
        ];
      }
    }
    const volumes: Volume[] = spec.volumes ?? [];
    if (!volumes.some((v) => v.name === "azure-identity-token")) {
      volumes.push({
        name: "azure-identity-token",
        projected: {
          defaultMode: 420,
          sources: [
            {
              serviceAccountToken: {
                audience: "api://AzureADTokenExchange",
                expirationSeconds: 3600,
                path: "azure-identity-token",
              },
            },
          ],
        },
      });
    }
    spec.volumes = volumes;
    pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}) };
  };

  // --- pods/proxy, pods/log, TokenRequest ---

  private podProxy(ns: string, spec: string, path: string): ProxyResult {
    const parts = spec.split(":");
    const name = parts.length === 3 ? (parts[1] ?? "") : (parts[0] ?? "");
    const portText = parts.length === 3 ? (parts[2] ?? "") : parts.length === 2 ? (parts[1] ?? "") : "";
    const podRt = this.rt("", "pods");
    const pod = this.store.get(podRt.storageKey, ns, name) as Pod | undefined;
    if (!pod) {
      const err = notFound(podRt, name);
      return { status: 404, body: JSON.stringify(err.status) };
    }
    let decoded = path;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      decoded = path;
    }
    decoded = `/${decoded.replace(/^\/+/, "")}`;
    const runtime = this.kubelet.runtime(ns, name);
    const port = portText === "" ? 80 : Number(portText);
    const unavailable = (message: string): ProxyResult => ({
      status: 503,
      body: JSON.stringify({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message,
        reason: "ServiceUnavailable",
        code: 503,
      }),
    });
    if (!runtime?.podIP)
      return unavailable(`error trying to reach service: pod ${name} has no IP address yet`);
    const container = pod.spec.containers.find((c) => (c.ports ?? []).some((p) => p.containerPort === port));
    const cr = container ? runtime.containers.get(container.name) : undefined;
    if (!container || cr?.state !== "running") {
      return unavailable(
        `error trying to reach service: dial tcp ${runtime.podIP}:${port}: connect: connection refused`,
      );
    }
    if (isPodinfo(container)) return podinfoRespond(pod, runtime, container, decoded);
    return {
      status: 404,
      headers: { "Content-Type": "text/plain; charset=utf-8" },
      body: "404 page not found\n",
    };
  }

  private podLog(ns: string, name: string, containerName: string | undefined): string {
    const pod = this.store.get("core/pods", ns, name) as Pod | undefined;
    const runtime = this.kubelet.runtime(ns, name);
    if (!pod || !runtime) return "";
    const c = containerName
      ? pod.spec.containers.find((x) => x.name === containerName)
      : pod.spec.containers[0];
    if (!c) return "";
    const cr = runtime.containers.get(c.name);
    if (isPodinfo(c)) return podinfoLog(c, cr?.startedAt, this.api.clock.now());
    return "";
  }

  private async tokenRequest(ns: string, sa: string, body: unknown): Promise<KubeObject> {
    const spec = isPlainObject(body) && isPlainObject(body.spec) ? body.spec : {};
    const audiences =
      Array.isArray(spec.audiences) && spec.audiences.length > 0
        ? (spec.audiences as string[])
        : [this.info.oidcIssuerUrl || "https://kubernetes.default.svc.cluster.local"];
    const expirationSeconds = typeof spec.expirationSeconds === "number" ? spec.expirationSeconds : 3600;
    const token = await this.azure.signServiceAccountToken(this.info.id, {
      namespace: ns,
      serviceAccount: sa,
      audience: audiences[0] ?? "",
      expiresInSeconds: expirationSeconds,
    });
    const now = this.api.clock.now();
    return {
      kind: "TokenRequest",
      apiVersion: "authentication.k8s.io/v1",
      metadata: { name: sa, namespace: ns, creationTimestamp: rfc3339(now) },
      spec: { audiences, expirationSeconds, boundObjectRef: null },
      status: { token, expirationTimestamp: rfc3339(now + expirationSeconds * 1000) },
    };
  }

  // --- inspection and faults ---

  private emulatorRoute(path: string, _q: URLSearchParams): unknown {
    if (path === "/_emulator/inventory") return this.inventory();
    const m = /^\/_emulator\/pods\/([^/]+)\/([^/]+)\/mounts$/.exec(path);
    if (m?.[1] && m[2]) return this.podMounts(decodeURIComponent(m[1]), decodeURIComponent(m[2]));
    return undefined;
  }

  /** The files each CSI volume of a pod holds, by volume name. */
  podMounts(namespace: string, pod: string): Record<string, Record<string, string>> | undefined {
    const r = this.kubelet.runtime(namespace, pod);
    if (!r) return undefined;
    const out: Record<string, Record<string, string>> = {};
    for (const [vol, target] of r.mounts) out[vol] = Object.fromEntries(target.files);
    return out;
  }

  /** The environment a pod's container started with (podinfo's /env without the proxy). */
  containerEnv(namespace: string, pod: string, container?: string): [string, string][] | undefined {
    const r = this.kubelet.runtime(namespace, pod);
    if (!r) return undefined;
    const c = container ? r.containers.get(container) : [...r.containers.values()][0];
    return c?.env;
  }

  crashLoop(rule: CrashRule): () => void {
    return this.kubelet.addCrashRule(rule);
  }

  /** Drops the watch history, so watches resuming from an older resourceVersion get 410 Gone. */
  compactWatchHistory(storageKey?: string): void {
    this.store.compact(storageKey);
  }

  /** A write no watch sees (a lease renewal, another resource): the cluster's revision moves on. */
  moveRevisionOn(): void {
    this.store.nextRevision();
  }

  /**
   * Rotates now: one pass of the v1.5 rotation reconciler whatever the poll
   * interval, or (1.6) a republish of every pod's CSI volumes, which the
   * driver still skips for a mount written within the poll interval.
   */
  async rotateSecretsNow(): Promise<void> {
    if (this.csiDriver === "1.5") await this.csi?.rotateAll();
    else await this.kubelet.republishAll();
  }

  inventory(): ClusterInventory {
    const objects: Record<string, number> = {};
    for (const key of this.store.storageKeys()) {
      const list = this.store.list(key);
      const kind = list[0]?.kind;
      if (kind && list.length > 0) objects[kind] = list.length;
    }
    const pods = this.store.list("core/pods") as Pod[];
    const counters = this.csi?.counters;
    const addon = this.info.keyVaultAddon;
    return {
      cluster: {
        id: this.info.id,
        name: this.info.name,
        resourceGroup: this.info.resourceGroup,
        server: this.server,
        kubernetesVersion: this.info.kubernetesVersion,
      },
      objects,
      created: { ...this.store.counters.created },
      deleted: { ...this.store.counters.deleted },
      pods: {
        total: pods.length,
        pending: pods.filter((p) => p.status?.phase === "Pending").length,
        running: pods.filter((p) => p.status?.phase === "Running").length,
        ready: pods.filter(isPodReady).length,
        terminating: pods.filter((p) => p.metadata.deletionTimestamp !== undefined).length,
        crashLooping: pods.filter((p) =>
          (p.status?.containerStatuses ?? []).some((c) => c.state.waiting?.reason === "CrashLoopBackOff"),
        ).length,
      },
      rollouts: this.deploymentRollouts(),
      reloads: this.reloader.reloads,
      restarts: this.kubelet.restarts,
      csi: {
        enabled: addon?.enabled === true,
        driver: this.csiDriver,
        rotation: addon?.enableSecretRotation === true,
        rotationPollInterval: addon?.rotationPollInterval ?? "",
        rotationPasses: counters?.rotationPasses ?? 0,
        lastMountRotationPass: counters?.lastMountRotationPass ?? 0,
        mounts: counters?.mounts ?? 0,
        mountFailures: counters?.mountFailures ?? 0,
        rotationPolls: counters?.rotationPolls ?? 0,
        republishes: counters?.republishes ?? 0,
        mountRotations: counters?.mountRotations ?? 0,
        secretRotations: counters?.secretRotations ?? 0,
        rotationFailures: counters?.rotationFailures ?? 0,
        tokenRequests: this.provider.counters.tokenRequests,
        vaultRequests: this.provider.counters.vaultRequests,
      },
      reloaderActive: this.reloader.activeOptions() !== undefined,
      watches: this.handler.openWatches,
      requests: { ...this.handler.requests },
      events: { ...this.events.reasons },
      revision: this.store.currentRevision,
      errors: [...this.errors],
    };
  }

  private deploymentRollouts(): number {
    return this.deployments.rollouts;
  }

  stop(): void {
    this.handler.closeWatches();
    this.unsubscribe();
    this.csi?.stop();
    this.kubelet.stop();
    this.scheduler.stop();
    this.daemonsets.stop();
    this.deployments.stop();
    this.replicasets.stop();
    this.gc.stop();
    this.reloader.stop();
    this.events.stop();
    this.store.clear();
  }
}
