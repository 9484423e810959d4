import type {
  Container,
  Deployment,
  KubeObject,
  Namespace,
  PodSpec,
  ReplicaSet,
  Secret,
  Volume,
} from "./types.ts";
import { isPlainObject } from "./util.ts";

/**
 * Defaulting as the API server does it before storing, for the fields the
 * lab's objects carry. Defaulting matters beyond looks: a re-applied manifest
 * must compare equal to what is stored, or every apply would roll the pods.
 */

function defaultProbe(p: unknown): void {
  if (!isPlainObject(p)) return;
  p.timeoutSeconds ??= 1;
  p.periodSeconds ??= 10;
  p.successThreshold ??= 1;
  p.failureThreshold ??= 3;
  const http = p.httpGet;
  if (isPlainObject(http)) http.scheme ??= "HTTP";
}

function defaultContainer(c: Container): void {
  if (c.imagePullPolicy === undefined) {
    const image = c.image ?? "";
    const tag = image.includes("@") ? "digest" : (/:([^/:]+)$/.exec(image)?.[1] ?? "latest");
    c.imagePullPolicy = tag === "latest" ? "Always" : "IfNotPresent";
  }
  c.terminationMessagePath ??= "/dev/termination-log";
  c.terminationMessagePolicy ??= "File";
  if (c.resources === undefined) c.resources = {};
  for (const port of c.ports ?? []) port.protocol ??= "TCP";
  defaultProbe(c.readinessProbe);
  defaultProbe(c.livenessProbe);
  defaultProbe(c.startupProbe);
  for (const e of c.env ?? []) {
    const fieldRef = e.valueFrom?.fieldRef;
    if (fieldRef) fieldRef.apiVersion ??= "v1";
  }
}

function defaultVolume(v: Volume): void {
  if (v.secret) v.secret.defaultMode ??= 420;
  if (v.configMap) v.configMap.defaultMode ??= 420;
  if (v.projected) v.projected.defaultMode ??= 420;
}

export function defaultPodSpec(spec: PodSpec): void {
  spec.restartPolicy ??= "Always";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= "ClusterFirst";
  spec.schedulerName ??= "default-scheduler";
  spec.securityContext ??= {};
  for (const c of spec.containers ?? []) defaultContainer(c);
  for (const c of spec.initContainers ?? []) defaultContainer(c);
  for (const v of spec.volumes ?? []) defaultVolume(v);
  // serviceAccount is the deprecated alias the API server keeps in step.
  if (spec.serviceAccountName !== undefined && spec.serviceAccount === undefined) {
    spec.serviceAccount = spec.serviceAccountName;
  }
}

export function defaultDeployment(d: Deployment): void {
  const spec = d.spec;
  if (!isPlainObject(spec)) return;
  spec.replicas ??= 1;
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  spec.strategy ??= {};
  spec.strategy.type ??= "RollingUpdate";
  if (spec.strategy.type === "RollingUpdate") {
    spec.strategy.rollingUpdate ??= {};
    spec.strategy.rollingUpdate.maxSurge ??= "25%";
    spec.strategy.rollingUpdate.maxUnavailable ??= "25%";
  }
  if (isPlainObject(spec.template)) {
    spec.template.metadata ??= {};
    if (isPlainObject(spec.template.spec)) defaultPodSpec(spec.template.spec);
  }
}

export function defaultReplicaSet(rs: ReplicaSet): void {
  const spec = rs.spec;
  if (!isPlainObject(spec)) return;
  spec.replicas ??= 1;
  if (isPlainObject(spec.template) && isPlainObject(spec.template.spec)) defaultPodSpec(spec.template.spec);
}

export function defaultPod(p: KubeObject): void {
  const spec = p.spec;
  if (!isPlainObject(spec)) return;
  const podSpec = spec as PodSpec;
  podSpec.serviceAccountName ??= "default";
  defaultPodSpec(podSpec);
  podSpec.enableServiceLinks ??= true;
  podSpec.preemptionPolicy ??= "PreemptLowerPriority";
  podSpec.priority ??= 0;
  podSpec.tolerations ??= [
    { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
    {
      key: "node.kubernetes.io/unreachable",
      operator: "Exists",
      effect: "NoExecute",
      tolerationSeconds: 300,
    },
  ];
}

export function defaultSecret(s: Secret): void {
  s.type ??= "Opaque";
}

export function defaultNamespace(ns: Namespace): void {
  const name = ns.metadata.name;
  if (name) {
    ns.metadata.labels = { ...(ns.metadata.labels ?? {}), "kubernetes.io/metadata.name": name };
  }
  ns.spec ??= {};
  ns.spec.finalizers ??= ["kubernetes"];
}
