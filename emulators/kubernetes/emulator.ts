import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { stringify as toYaml } from "yaml";
import { type EmulatorClock, emulatedTimeline } from "../shared/clock.ts";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueServerCertificate,
} from "../shared/tls.ts";
import type { AzureWorldLink, ClusterEvent, ClusterInfo, KubernetesEndpoint } from "../shared/world.ts";
import { AzureHttpClient } from "./azure-http.ts";
import { type ClusterInventory, KubeCluster } from "./cluster.ts";
import { type CsiDriverRelease, DEFAULT_CSI_DRIVER_RELEASE } from "./controllers/csi.ts";
import { type CrashRule, DEFAULT_KUBELET_TIMING, type KubeletTiming } from "./controllers/kubelet.ts";
import { type ChaosCounts, type ChaosOptions, KubeChaos } from "./faults.ts";
import type { ApiFault } from "./server.ts";

/**
 * The AKS emulator: for every cluster the Azure emulator announces, an API
 * server on its own HTTPS port on loopback with the lab's in-cluster
 * behaviour, registered as the endpoint listClusterUserCredential hands out.
 */

export interface KubernetesEmulatorOptions {
  azure: AzureWorldLink;
  /**
   * Defaults to the Azure side's clock, so both run at the same time scale.
   * The emulator reads it in emulated time (`emulatedTimeline`): every
   * controller, the kubelet, events and the timestamps the API returns.
   */
  clock?: EmulatorClock;
  /**
   * The Secrets Store CSI driver release each cluster's Key Vault addon runs,
   * which decides how secrets rotate: "1.6" (the default, as AKS rolls it
   * out) rotates on the kubelet's republish after rotationPollInterval and
   * emits no rotation events; "1.5" runs the v1.4/v1.5 rotation reconciler
   * with its MountRotation and SecretRotation events. A function chooses per
   * cluster. When absent, LABOPS_EMULATOR_CSI_DRIVER ("1.5" or "1.6") if set,
   * so a whole suite or the demo can run under either.
   */
  csiDriver?: CsiDriverRelease | ((cluster: ClusterInfo) => CsiDriverRelease);
  /**
   * The CA that signs the API servers' certificate. The world's CA when the
   * caller has it (AzureWorldLink carries only its certificate); otherwise the
   * emulator makes its own, and each kubeconfig carries it.
   */
  ca?: CertificateAuthority;
  /** Loopback address to listen on. */
  host?: string;
  /** Kubelet delays (emulated milliseconds). */
  timing?: Partial<KubeletTiming>;
  /** Changes kept per resource for resuming watches; older ones get 410 Gone. Like the API server's watch cache (100). */
  watchCacheSize?: number;
  /** Emulated delay before the scheduler binds a pod. */
  schedulerDelayMs?: number;
  /** Seeds the chaos draw when `setChaos` is given no seed, for replayable runs; random when absent. */
  seed?: number;
  /** Random failures from the start (see `faults.setChaos`). */
  chaos?: ChaosOptions;
}

export interface KubernetesFaultsApi {
  /**
   * Turns random failures of every cluster's regular API requests on (or off
   * with null): Status bodies with TooManyRequests (and `Retry-After: 1`),
   * InternalError or ServiceUnavailable, and drawn latency. Watches and other
   * long-running requests are spared, as the API server spares them.
   */
  setChaos(options: ChaosOptions | null): void;
}

export interface KubernetesEmulatorStats {
  /** API requests that reached any cluster's server (the emulator's own /_emulator routes excepted). */
  requests: number;
  /** Responses produced by a cluster's fault plan (`injectFault`) or chaos mode. */
  faultsInjected: number;
  /** What chaos mode drew (a soak test checks it really ran). */
  chaos: ChaosCounts;
}

export interface KubernetesClusterHandle {
  readonly id: string;
  readonly name: string;
  readonly resourceGroup: string;
  readonly server: string;
  readonly token: string;
  readonly caPem: string;
  /** A kubeconfig for this cluster, like the one listClusterUserCredential returns (YAML). */
  kubeconfig(): string;
  inventory(): ClusterInventory;
  /** Files of each CSI volume of a pod, by volume name. */
  podMounts(namespace: string, pod: string): Record<string, Record<string, string>> | undefined;
  /** The env a container started with. */
  containerEnv(namespace: string, pod: string, container?: string): [string, string][] | undefined;
  /** Makes matching containers crash-loop until the returned function is called. */
  crashLoop(rule: CrashRule): () => void;
  /** Drops the retained watch history (all resources, or one storage key such as "core/pods"). */
  compactWatchHistory(storageKey?: string): void;
  /**
   * Moves the cluster's revision on, at once, as a write no watch sees would
   * (leases and other resources move a real cluster's). Followed by
   * compactWatchHistory and dropWatches in the same turn, every watch resumes
   * from before the compaction and gets 410, even one that had just seen the
   * newest revision (a pod written by the kubelet, a bookmark): a write over
   * HTTP leaves a turn in which that can happen.
   */
  moveRevisionOn(): void;
  /** Ends every open watch stream, as an API server restart or a load balancer would. */
  dropWatches(): void;
  /** Fails matching API requests (e.g. 429 with Retry-After) until the returned function is called or `count` runs out. */
  injectFault(fault: ApiFault): () => void;
  /**
   * Rotates now: one pass of the rotation reconciler (CSI driver 1.5), or a
   * republish of every pod's CSI volumes (1.6, where a mount written less
   * than rotationPollInterval ago is still left as it is).
   */
  rotateSecretsNow(): Promise<void>;
  /** The CSI driver release this cluster's addon runs. */
  readonly csiDriver: CsiDriverRelease;
}

export interface KubernetesInventory {
  clusters: ClusterInventory[];
  totals: {
    clusters: number;
    pods: number;
    readyPods: number;
    rollouts: number;
    reloads: number;
    restarts: number;
    watches: number;
  };
}

export interface KubernetesEmulator {
  /** https://127.0.0.1:PORT serving GET /_emulator/inventory (all clusters) and /_emulator/clusters[/NAME/inventory]. */
  readonly adminEndpoint: string;
  clusters(): KubernetesClusterHandle[];
  cluster(idOrName: string): KubernetesClusterHandle | undefined;
  /** Resolves once the Azure side has announced the cluster and its API server listens. */
  waitForCluster(idOrName: string, signal?: AbortSignal): Promise<KubernetesClusterHandle>;
  inventory(): KubernetesInventory;
  readonly faults: KubernetesFaultsApi;
  stats(): KubernetesEmulatorStats;
  stop(): Promise<void>;
}

interface Slot {
  server: Server;
  url: string;
  cluster: KubeCluster | undefined;
}

const SPARE_SERVERS = 2;

/** LABOPS_EMULATOR_CSI_DRIVER ("1.5" or "1.6"), when set. */
export function csiDriverFromEnv(env: NodeJS.ProcessEnv = process.env): CsiDriverRelease | undefined {
  const v = env.LABOPS_EMULATOR_CSI_DRIVER?.trim();
  if (v === undefined || v === "") return undefined;
  if (v === "1.5" || v === "1.6") return v;
  throw new RangeError(`LABOPS_EMULATOR_CSI_DRIVER must be 1.5 or 1.6, got '${v}'`);
}

export async function startKubernetesEmulator(
  options: KubernetesEmulatorOptions,
): Promise<KubernetesEmulator> {
  const azure = options.azure;
  const clock = emulatedTimeline(options.clock ?? azure.clock);
  const fromEnv = csiDriverFromEnv();
  const csiRelease = (info: ClusterInfo): CsiDriverRelease => {
    const choice = options.csiDriver ?? fromEnv ?? DEFAULT_CSI_DRIVER_RELEASE;
    return typeof choice === "function" ? choice(info) : choice;
  };
  const host = options.host ?? "127.0.0.1";
  const ca = options.ca ?? (await createCertificateAuthority("labops AKS emulator CA"));
  const cert = await issueServerCertificate(ca, "kubernetes");
  const timing: KubeletTiming = { ...DEFAULT_KUBELET_TIMING, ...(options.timing ?? {}) };
  const http = new AzureHttpClient(azure.caPem);
  const byId = new Map<string, { cluster: KubeCluster; slot: Slot }>();
  const spares: Slot[] = [];
  const waiters = new Set<() => void>();
  let stopped = false;
  const chaos = new KubeChaos(options.seed);
  if (options.chaos) chaos.setChaos(options.chaos);
  // Emulator-wide, so that what a deleted cluster served still counts.
  const counters = { requests: 0, faultsInjected: 0 };

  const aggregated = (): KubernetesInventory => {
    const clusters = [...byId.values()].map((x) => x.cluster.inventory());
    const sum = (f: (c: ClusterInventory) => number) => clusters.reduce((n, c) => n + f(c), 0);
    return {
      clusters,
      totals: {
        clusters: clusters.length,
        pods: sum((c) => c.pods.total),
        readyPods: sum((c) => c.pods.ready),
        rollouts: sum((c) => c.rollouts),
        reloads: sum((c) => c.reloads),
        restarts: sum((c) => c.restarts),
        watches: sum((c) => c.watches),
      },
    };
  };

  const newSlot = (): Promise<Slot> =>
    new Promise((resolve, reject) => {
      const slot: Slot = { server: undefined as unknown as Server, url: "", cluster: undefined };
      const server = createServer(
        { cert: cert.cert, key: cert.key },
        (req: IncomingMessage, res: ServerResponse) => {
          const path = (req.url ?? "").split("?")[0];
          if (req.method === "GET" && path === "/_emulator/inventory/all") {
            const body = JSON.stringify(aggregated());
            res.writeHead(200, {
              "Content-Type": "application/json",
              "Content-Length": Buffer.byteLength(body),
            });
            res.end(body);
            return;
          }
          if (!slot.cluster) {
            res.writeHead(503, { "Content-Type": "text/plain" });
            res.end("cluster not ready");
            return;
          }
          slot.cluster.handler.handle(req, res);
        },
      );
      slot.server = server;
      server.keepAliveTimeout = 30_000;
      server.once("error", reject);
      server.listen(0, host, () => {
        const port = (server.address() as AddressInfo).port;
        slot.url = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
        resolve(slot);
      });
    });

  const refill = () => {
    while (!stopped && spares.length + pendingSpares < SPARE_SERVERS) {
      pendingSpares++;
      newSlot()
        .then((s) => {
          pendingSpares--;
          if (stopped) s.server.close();
          else spares.push(s);
        })
        .catch(() => {
          pendingSpares--;
        });
    }
  };
  let pendingSpares = 0;
  for (let i = 0; i < SPARE_SERVERS; i++) spares.push(await newSlot());

  const attach = (info: ClusterInfo, slot: Slot) => {
    const cluster = new KubeCluster({
      info,
      azure,
      clock,
      csiDriver: csiRelease(info),
      http,
      timing,
      watchCacheSize: options.watchCacheSize ?? 100,
      schedulerDelayMs: options.schedulerDelayMs ?? 100,
      token: randomBytes(32).toString("base64url"),
      server: slot.url,
      caPem: ca.cert,
      chaos,
      counters,
    });
    slot.cluster = cluster;
    byId.set(info.id, { cluster, slot });
    for (const w of [...waiters]) w();
  };

  const add = (info: ClusterInfo) => {
    if (byId.has(info.id) || stopped) return;
    const spare = spares.shift();
    if (spare) {
      attach(info, spare);
      refill();
      return;
    }
    // No listening server at hand: the endpoint appears once this one listens.
    newSlot()
      .then((slot) => {
        if (stopped || byId.has(info.id)) slot.server.close();
        else attach(info, slot);
      })
      .catch(() => {});
  };

  const remove = (info: ClusterInfo) => {
    const entry = byId.get(info.id);
    if (!entry) return;
    byId.delete(info.id);
    entry.cluster.stop();
    entry.slot.server.close();
    entry.slot.server.closeAllConnections();
  };

  const onEvent = (e: ClusterEvent) => {
    if (e.type === "created") add(e.cluster);
    else if (e.type === "updated") {
      const entry = byId.get(e.cluster.id);
      if (entry) entry.cluster.update(e.cluster);
      else add(e.cluster);
    } else remove(e.cluster);
  };

  const unsubscribe = azure.onClusterEvent(onEvent);
  for (const info of azure.clusters()) add(info);

  azure.setKubernetesEndpointProvider((info): KubernetesEndpoint | undefined => {
    const entry = byId.get(info.id);
    if (!entry) return undefined;
    return { server: entry.slot.url, caPem: ca.cert, token: entry.cluster.token };
  });

  const admin = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    let body: unknown;
    if (req.method === "GET" && path === "/_emulator/inventory") body = aggregated();
    else if (req.method === "GET" && path === "/_emulator/clusters") {
      body = [...byId.values()].map(({ cluster }) => ({
        id: cluster.info.id,
        name: cluster.info.name,
        resourceGroup: cluster.info.resourceGroup,
        server: cluster.server,
      }));
    } else {
      const m = /^\/_emulator\/clusters\/([^/]+)\/inventory$/.exec(path);
      const c = m?.[1] ? find(decodeURIComponent(m[1])) : undefined;
      if (req.method === "GET" && c) body = c.inventory();
    }
    if (body === undefined) {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not found");
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
  });
  const adminEndpoint = await new Promise<string>((resolve, reject) => {
    admin.once("error", reject);
    admin.listen(0, host, () => resolve(`https://${host}:${(admin.address() as AddressInfo).port}`));
  });

  const handle = (c: KubeCluster): KubernetesClusterHandle => ({
    id: c.info.id,
    name: c.info.name,
    resourceGroup: c.info.resourceGroup,
    server: c.server,
    token: c.token,
    caPem: c.caPem,
    kubeconfig: () => kubeconfigYaml(c),
    inventory: () => c.inventory(),
    podMounts: (ns, pod) => c.podMounts(ns, pod),
    containerEnv: (ns, pod, container) => c.containerEnv(ns, pod, container),
    crashLoop: (rule) => c.crashLoop(rule),
    compactWatchHistory: (key) => c.compactWatchHistory(key),
    moveRevisionOn: () => c.moveRevisionOn(),
    dropWatches: () => c.handler.closeWatches(),
    injectFault: (fault) => c.handler.injectFault(fault),
    rotateSecretsNow: () => c.rotateSecretsNow(),
    csiDriver: c.csiDriver,
  });

  const find = (idOrName: string) => {
    const direct = byId.get(idOrName);
    if (direct) return direct.cluster;
    for (const { cluster } of byId.values()) {
      if (cluster.info.name === idOrName || cluster.info.id.toLowerCase() === idOrName.toLowerCase())
        return cluster;
    }
    return undefined;
  };

  return {
    adminEndpoint,
    clusters: () => [...byId.values()].map((x) => handle(x.cluster)),
    cluster: (idOrName) => {
      const c = find(idOrName);
      return c ? handle(c) : undefined;
    },
    waitForCluster: (idOrName, signal) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const c = find(idOrName);
          if (!c) return false;
          waiters.delete(check);
          resolve(handle(c));
          return true;
        };
        if (check()) return;
        waiters.add(check);
        signal?.addEventListener(
          "abort",
          () => {
            waiters.delete(check);
            reject(signal.reason);
          },
          { once: true },
        );
      }),
    inventory: aggregated,
    faults: { setChaos: (o) => chaos.setChaos(o) },
    stats: () => ({ ...counters, chaos: chaos.counts }),
    stop: async () => {
      stopped = true;
      unsubscribe();
      azure.setKubernetesEndpointProvider(() => undefined);
      for (const info of [...byId.values()].map((x) => x.cluster.info)) remove(info);
      for (const s of spares.splice(0)) {
        s.server.close();
        s.server.closeAllConnections();
      }
      admin.close();
      admin.closeAllConnections();
      http.close();
    },
  };
}

/** The kubeconfig AKS's listClusterUserCredential returns, with a static token instead of kubelogin. */
export function kubeconfigYaml(c: {
  info: ClusterInfo;
  server: string;
  caPem: string;
  token: string;
}): string {
  const name = c.info.name;
  const user = `clusterUser_${c.info.resourceGroup}_${name}`;
  return toYaml({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name,
        cluster: {
          server: c.server,
          "certificate-authority-data": Buffer.from(c.caPem, "utf8").toString("base64"),
        },
      },
    ],
    contexts: [{ name, context: { cluster: name, user } }],
    "current-context": name,
    preferences: {},
    users: [{ name: user, user: { token: c.token } }],
  });
}
