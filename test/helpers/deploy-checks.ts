import { CONFIG_VARIABLES, ROLES } from "../../src/config.ts";
import type { KubeObject } from "./kustomize.ts";

/**
 * The production bar for the rendered Kubernetes manifests, as a function
 * that returns every problem it finds: the deploy test expects none for the
 * real manifests and expects each one for a deliberately weakened copy, so
 * every check is known to be able to fail.
 */

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: unknown; fieldRef?: unknown };
}

interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type?: string };
}

interface Probe {
  httpGet?: { path?: string; port?: number | string };
  exec?: { command?: string[] };
}

interface Container {
  name: string;
  image?: string;
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: SecurityContext;
  topologySpreadConstraints?: unknown[];
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<{ name: string; emptyDir?: unknown }>;
}

interface Deployment extends KubeObject {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels?: Record<string, string> }; spec: PodSpec };
  };
}

interface NetworkPolicyPeer {
  podSelector?: unknown;
  namespaceSelector?: unknown;
  ipBlock?: unknown;
}

interface NetworkPolicy extends KubeObject {
  spec: {
    podSelector: { matchLabels?: Record<string, string> };
    policyTypes?: string[];
    ingress?: Array<{ from?: NetworkPolicyPeer[]; ports?: Array<{ port?: number | string }> }>;
    egress?: Array<{ to?: NetworkPolicyPeer[]; ports?: Array<{ port?: number | string }> }>;
  };
}

export const NAMESPACE = "labops";
export const HTTP_PORT = 3978;
export const DEPLOYMENTS = { web: "labops-web", worker: "labops-worker", watcher: "labops-watcher" } as const;
/** Ports the bot may open connections to: DNS, HTTPS, Redis over TLS (Azure Cache for Redis, Azure Managed Redis). */
export const EGRESS_PORTS = [53, 443, 6380, 10000];
/** Variables that only make sense against the emulators. */
export const EMULATOR_ONLY = ["LABOPS_TIME_SCALE", "LABOPS_CA_FILE"];
/** Set by the workload identity webhook, or never used: workload identity means no client secret. */
export const NEVER_IN_MANIFESTS = ["AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID"];
const SECRET_LIKE = /SECRET|PASSWORD|TOKEN|KEY/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONFIG_NAMES = new Set(CONFIG_VARIABLES.map((v) => v.name));
const SECRET_NAMES = new Set(CONFIG_VARIABLES.filter((v) => v.secret).map((v) => v.name));

export interface CheckOptions {
  /** Overlays must pin a real image; the base may leave it to them. */
  pinnedImage: boolean;
  /** Paths the ingress may publish. */
  publicPaths: readonly string[];
}

const MI = { Ki: 1 / 1024, Mi: 1, Gi: 1024 } as const;

function mebibytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi)$/.exec(quantity);
  if (!m) return Number.NaN;
  return Number(m[1]) * MI[m[2] as keyof typeof MI];
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

function effective<K extends keyof SecurityContext>(
  pod: PodSpec,
  c: Container,
  key: K,
): SecurityContext[K] | undefined {
  return c.securityContext?.[key] ?? pod.securityContext?.[key];
}

function probePort(c: Container, probe: Probe | undefined): number | undefined {
  const port = probe?.httpGet?.port;
  if (typeof port === "number") return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

export function checkRendered(objects: readonly KubeObject[], options: CheckOptions): string[] {
  const problems: string[] = [];
  const of = <T extends KubeObject>(kind: string) => objects.filter((o) => o.kind === kind) as T[];
  const deployments = of<Deployment>("Deployment");
  const configMaps = of<KubeObject & { data?: Record<string, string> }>("ConfigMap");
  const serviceAccounts = of<KubeObject & { automountServiceAccountToken?: boolean }>("ServiceAccount");

  for (const o of objects) {
    if (o.kind !== "Namespace" && o.metadata.namespace !== NAMESPACE) {
      problems.push(`${o.kind} ${o.metadata.name}: not in namespace ${NAMESPACE}`);
    }
    if (o.kind === "Secret") problems.push(`Secret ${o.metadata.name}: secrets are never in the repository`);
  }
  const ns = of("Namespace").find((n) => n.metadata.name === NAMESPACE);
  if (ns?.metadata.labels?.["pod-security.kubernetes.io/enforce"] !== "restricted") {
    problems.push(`Namespace ${NAMESPACE}: must enforce the restricted Pod Security Standard`);
  }

  for (const cm of configMaps) {
    for (const key of Object.keys(cm.data ?? {})) {
      if (!CONFIG_NAMES.has(key))
        problems.push(`ConfigMap ${cm.metadata.name}: ${key} is not a labops variable`);
      if (SECRET_NAMES.has(key) || SECRET_LIKE.test(key)) {
        problems.push(`ConfigMap ${cm.metadata.name}: ${key} is a secret and belongs in the Secret`);
      }
      if (EMULATOR_ONLY.includes(key))
        problems.push(`ConfigMap ${cm.metadata.name}: ${key} is for the emulators`);
      if (NEVER_IN_MANIFESTS.includes(key))
        problems.push(`ConfigMap ${cm.metadata.name}: ${key} must not be set`);
    }
    const port = cm.data?.PORT;
    if (port !== undefined && Number(port) !== HTTP_PORT) {
      problems.push(`ConfigMap ${cm.metadata.name}: PORT ${port} differs from the probes' ${HTTP_PORT}`);
    }
  }

  const accountOf = new Map<string, string | undefined>();
  for (const [role, name] of Object.entries(DEPLOYMENTS)) {
    const d = deployments.find((x) => x.metadata.name === name);
    if (!d) {
      problems.push(`Deployment ${name}: missing`);
      continue;
    }
    const where = `Deployment ${name}`;
    const pod = d.spec.template.spec;
    const labels = d.spec.template.metadata.labels ?? {};
    if (!selects(d.spec.selector.matchLabels, labels))
      problems.push(`${where}: selector does not match its pods`);
    if (labels["azure.workload.identity/use"] !== "true") {
      problems.push(`${where}: pod template lacks the label azure.workload.identity/use: "true"`);
    }
    const sa = serviceAccounts.find((s) => s.metadata.name === pod.serviceAccountName);
    accountOf.set(role, pod.serviceAccountName);
    if (!sa) problems.push(`${where}: service account ${pod.serviceAccountName} is not defined`);
    else if (!GUID.test(sa.metadata.annotations?.["azure.workload.identity/client-id"] ?? "")) {
      problems.push(
        `${where}: service account ${sa.metadata.name} lacks the azure.workload.identity/client-id annotation`,
      );
    }
    if (pod.automountServiceAccountToken !== false) {
      problems.push(
        `${where}: automountServiceAccountToken must be false (the bot never calls this cluster)`,
      );
    }
    if ((pod.terminationGracePeriodSeconds ?? 30) < 35) {
      problems.push(`${where}: terminationGracePeriodSeconds must leave 30 s for in-flight steps (>= 35)`);
    }
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push(`${where}: uses host namespaces`);
    if ((pod.topologySpreadConstraints ?? []).length === 0) problems.push(`${where}: no topology spread`);

    const pdb = of<KubeObject & { spec: { selector: { matchLabels: Record<string, string> } } }>(
      "PodDisruptionBudget",
    ).find((b) => selects(b.spec.selector.matchLabels, labels));
    if (!pdb) problems.push(`${where}: no PodDisruptionBudget selects its pods`);

    const containers = [...pod.containers, ...(pod.initContainers ?? [])];
    for (const c of containers) {
      const at = `${where} container ${c.name}`;
      if (effective(pod, c, "runAsNonRoot") !== true) problems.push(`${at}: runAsNonRoot must be true`);
      if (effective(pod, c, "runAsUser") === 0) problems.push(`${at}: runs as root`);
      if (c.securityContext?.readOnlyRootFilesystem !== true)
        problems.push(`${at}: readOnlyRootFilesystem must be true`);
      if (c.securityContext?.allowPrivilegeEscalation !== false) {
        problems.push(`${at}: allowPrivilegeEscalation must be false`);
      }
      if (c.securityContext?.privileged === true) problems.push(`${at}: privileged`);
      if (!c.securityContext?.capabilities?.drop?.includes("ALL"))
        problems.push(`${at}: must drop ALL capabilities`);
      if ((c.securityContext?.capabilities?.add ?? []).length > 0) problems.push(`${at}: adds capabilities`);
      if (effective(pod, c, "seccompProfile")?.type !== "RuntimeDefault") {
        problems.push(`${at}: seccompProfile must be RuntimeDefault`);
      }
      const r = c.resources;
      for (const kind of ["requests", "limits"] as const) {
        for (const res of ["cpu", "memory"]) {
          if (r?.[kind]?.[res] === undefined) problems.push(`${at}: resources.${kind}.${res} missing`);
        }
      }
      const req = mebibytes(r?.requests?.memory ?? "");
      const lim = mebibytes(r?.limits?.memory ?? "");
      if (lim < req) problems.push(`${at}: memory limit below its request`);
      if (c.securityContext?.readOnlyRootFilesystem === true) {
        const tmp = c.volumeMounts?.find((m) => m.mountPath === "/tmp");
        if (!tmp || !pod.volumes?.some((v) => v.name === tmp.name && v.emptyDir !== undefined)) {
          problems.push(`${at}: read-only root filesystem without an emptyDir /tmp`);
        }
      }
      if (options.pinnedImage) {
        const image = c.image ?? "";
        const tag = /:([^/:@]+)$/.exec(image)?.[1];
        if (!image.includes("@sha256:") && (tag === undefined || tag === "latest")) {
          problems.push(`${at}: image ${image} must be pinned to a version (never latest)`);
        }
      }
    }

    const main = pod.containers[0];
    if (!main) continue;
    const at = `${where} container ${main.name}`;
    const live = main.livenessProbe;
    const ready = main.readinessProbe;
    if (live?.httpGet?.path !== "/healthz" || probePort(main, live) !== HTTP_PORT) {
      problems.push(`${at}: liveness probe must GET /healthz on ${HTTP_PORT}`);
    }
    if (ready?.httpGet?.path !== "/readyz" || probePort(main, ready) !== HTTP_PORT) {
      problems.push(`${at}: readiness probe must GET /readyz on ${HTTP_PORT}`);
    }

    const roles = (main.env ?? []).filter((e) => e.name === "LABOPS_ROLE");
    if (roles.length !== 1 || roles[0]?.value !== role || !(ROLES as readonly string[]).includes(role)) {
      problems.push(`${at}: LABOPS_ROLE must be set to ${role}`);
    }
    for (const e of main.env ?? []) {
      if (!CONFIG_NAMES.has(e.name)) problems.push(`${at}: ${e.name} is not a labops variable`);
      if (NEVER_IN_MANIFESTS.includes(e.name))
        problems.push(`${at}: ${e.name} must not be set (workload identity)`);
      if (EMULATOR_ONLY.includes(e.name)) problems.push(`${at}: ${e.name} is for the emulators`);
      if (SECRET_NAMES.has(e.name) || SECRET_LIKE.test(e.name)) {
        if (e.value !== undefined || e.valueFrom?.secretKeyRef === undefined) {
          problems.push(`${at}: ${e.name} must come from a secretKeyRef, never a literal value`);
        }
      }
    }
    for (const from of main.envFrom ?? []) {
      if (from.secretRef)
        problems.push(`${at}: envFrom secretRef hides which secrets it reads; use secretKeyRef`);
      const name = from.configMapRef?.name;
      if (name !== undefined && !configMaps.some((cm) => cm.metadata.name === name)) {
        problems.push(`${at}: envFrom ConfigMap ${name} is not defined`);
      }
    }
  }
  if (accountOf.get("web") !== undefined && accountOf.get("web") === accountOf.get("worker")) {
    problems.push("web and worker share a service account: the web pods would hold the labs' Azure identity");
  }

  const policies = of<NetworkPolicy>("NetworkPolicy");
  const denyAll = policies.find(
    (p) =>
      Object.keys(p.spec.podSelector.matchLabels ?? {}).length === 0 &&
      ["Ingress", "Egress"].every((t) => p.spec.policyTypes?.includes(t)) &&
      (p.spec.ingress ?? []).length === 0 &&
      (p.spec.egress ?? []).length === 0,
  );
  if (!denyAll) problems.push("NetworkPolicy: no default deny of ingress and egress");
  for (const p of policies) {
    const targets = deployments.filter((d) =>
      selects(p.spec.podSelector.matchLabels, d.spec.template.metadata.labels ?? {}),
    );
    for (const rule of p.spec.ingress ?? []) {
      if (targets.some((d) => d.metadata.name !== DEPLOYMENTS.web)) {
        problems.push(`NetworkPolicy ${p.metadata.name}: lets traffic into pods other than web`);
      }
      const ports = (rule.ports ?? []).map((x) => x.port);
      if (ports.length === 0 || ports.some((x) => x !== HTTP_PORT && x !== "http")) {
        problems.push(`NetworkPolicy ${p.metadata.name}: ingress must be limited to port ${HTTP_PORT}`);
      }
    }
    for (const rule of p.spec.egress ?? []) {
      const ports = (rule.ports ?? []).map((x) => x.port);
      if (ports.length === 0 || ports.some((x) => typeof x !== "number" || !EGRESS_PORTS.includes(x))) {
        problems.push(`NetworkPolicy ${p.metadata.name}: egress beyond ports ${EGRESS_PORTS.join(", ")}`);
      }
    }
  }

  for (const s of of<KubeObject & { spec: { selector?: Record<string, string> } }>("Service")) {
    const selected = deployments.filter((d) =>
      selects(s.spec.selector, d.spec.template.metadata.labels ?? {}),
    );
    if (selected.length !== 1 || selected[0]?.metadata.name !== DEPLOYMENTS.web) {
      problems.push(`Service ${s.metadata.name}: must select the web pods only`);
    }
  }

  type Ingress = KubeObject & {
    spec: {
      tls?: unknown[];
      rules?: Array<{
        http?: { paths?: Array<{ path?: string; backend?: { service?: { name?: string } } }> };
      }>;
    };
  };
  for (const ing of of<Ingress>("Ingress")) {
    if ((ing.spec.tls ?? []).length === 0) problems.push(`Ingress ${ing.metadata.name}: no TLS`);
    for (const rule of ing.spec.rules ?? []) {
      for (const path of rule.http?.paths ?? []) {
        if (!options.publicPaths.includes(path.path ?? "")) {
          problems.push(
            `Ingress ${ing.metadata.name}: publishes ${path.path}, only the chat endpoints may be public`,
          );
        }
        if (path.backend?.service?.name !== DEPLOYMENTS.web) {
          problems.push(
            `Ingress ${ing.metadata.name}: routes to ${path.backend?.service?.name}, not the web Service`,
          );
        }
      }
    }
  }
  return problems;
}
