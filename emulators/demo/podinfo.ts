import { request } from "node:https";
import type { KubernetesClusterHandle, KubernetesEmulator } from "../kubernetes/index.ts";

/**
 * What `kubectl port-forward deploy/podinfo-csi 9898` would give a learner,
 * for each emulated lab: podinfo's answers, reached the way kubectl reaches a
 * pod (the cluster's API server, with the kubeconfig's token, pods/proxy).
 * Each request goes to one of the Ready pods, drawn at random as a Service
 * spreads connections, so a rollout shows pod by pod.
 * Beside podinfo's own `api/info`, `api/mounts?pod=NAME` lists the secret
 * versions mounted into a pod (its SecretProviderClassPodStatus): versions,
 * never values.
 */

/** The lab's names, as src/labs/naming.ts derives them (the emulators import nothing from src/). */
const NAMESPACE = "secret-lab";
const SELECTOR = "app=podinfo";
const PORT = 9898;
export const clusterOfLab = (lab: string) => `lab-${lab}-aks`;

interface Answer {
  status: number;
  body: unknown;
}

function kubeGet(
  c: KubernetesClusterHandle,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, c.server),
      {
        method: "GET",
        ca: c.caPem,
        timeout: 5_000,
        headers: { authorization: `Bearer ${c.token}`, accept: "application/json", ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // podinfo's 404 is plain text
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("the cluster did not answer within 5 s")));
    req.on("error", reject);
    req.end();
  });
}

interface PodLike {
  metadata?: { name?: string; deletionTimestamp?: string };
  status?: { conditions?: Array<{ type?: string; status?: string }> };
}

export class PodinfoForward {
  readonly #kube: KubernetesEmulator;

  constructor(kube: KubernetesEmulator) {
    this.#kube = kube;
  }

  /** The labs whose cluster exists in the emulated world. */
  labs(): string[] {
    return this.#kube
      .clusters()
      .map((c) => /^lab-(.+)-aks$/.exec(c.name)?.[1])
      .filter((x): x is string => x !== undefined)
      .sort();
  }

  /** podinfo's `/api/info` from the next Ready pod, or a 503 saying why there is none. */
  async info(lab: string): Promise<Answer> {
    const cluster = this.#kube.cluster(clusterOfLab(lab));
    if (!cluster) return unavailable(`lab ${lab} has no cluster (yet, or any more)`);
    const list = await kubeGet(
      cluster,
      `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${encodeURIComponent(SELECTOR)}`,
    );
    const pods = ((list.body as { items?: PodLike[] }).items ?? []).filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
    const ready = pods
      .filter((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
      .map((p) => p.metadata?.name ?? "")
      .sort();
    if (ready.length === 0)
      return unavailable(`no podinfo pod is Ready yet (${pods.length} in ${NAMESPACE}); waiting…`);
    const i = Math.floor(Math.random() * ready.length);
    // podinfo answers curl with JSON and browsers with its UI: ask as curl, the UI is ours.
    return kubeGet(cluster, `/api/v1/namespaces/${NAMESPACE}/pods/${ready[i]}:${PORT}/proxy/api/info`, {
      "user-agent": "curl/8.14.1",
    });
  }

  /** The secret versions mounted into one pod of the lab. */
  async mounts(lab: string, pod: string): Promise<Answer> {
    const cluster = this.#kube.cluster(clusterOfLab(lab));
    if (!cluster) return unavailable(`lab ${lab} has no cluster`);
    const list = await kubeGet(
      cluster,
      `/apis/secrets-store.csi.x-k8s.io/v1/namespaces/${NAMESPACE}/secretproviderclasspodstatuses`,
    );
    const items =
      (
        list.body as {
          items?: Array<{ status?: { podName?: string; objects?: Array<{ id: string; version: string }> } }>;
        }
      ).items ?? [];
    const objects = items
      .filter((s) => s.status?.podName === pod)
      .flatMap((s) => s.status?.objects ?? [])
      .map((o) => ({ name: o.id.replace(/^secret\//, ""), version: o.version.slice(0, 8) }));
    return { status: 200, body: { pod, objects } };
  }
}

const unavailable = (message: string): Answer => ({ status: 503, body: { message } });
