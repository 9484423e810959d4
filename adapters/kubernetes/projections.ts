import { createHmac, randomBytes } from "node:crypto";
import type { V1Deployment, V1ReplicaSet, V1Secret } from "@kubernetes/client-node";
import type {
  WatchedDeployment,
  WatchedEvent,
  WatchedReplicaSet,
  WatchedSecret,
} from "../../src/ports/cluster-watch.ts";
import { time } from "./cluster.ts";

/**
 * What the watcher keeps of each object its watches deliver: the fields a
 * rotation trace reads, and no more. The synced Secret's values become keyed
 * digests (change detectors, not fingerprints); Reloader's marks in a pod
 * template become one digest shared by a Deployment and the ReplicaSet it
 * made; events are kept only for the reasons the watcher reads. Pods and
 * SecretProviderClassPodStatuses are projected as the cluster session reads
 * them (podState and mountState in cluster.ts).
 */

const RELOADER_PREFIX = "reloader.stakater.com";
const LAST_RELOADED_FROM = "reloader.stakater.com/last-reloaded-from";
/** Event reasons the watcher reads; every other event is dropped on arrival. */
const EVENT_REASONS = new Set([
  "FailedMount",
  "MountRotationFailed",
  "MountRotationComplete",
  "SecretRotationComplete",
  "SecretRotationFailed",
  "Reloaded",
  "ReloadFail",
  "BackOff",
  "Evicted",
  "Killing",
]);

/** Digests of the synced Secret's entries under a per-process key: change detectors, not fingerprints. */
export function secretProjector(key: Buffer = randomBytes(32)): (raw: unknown) => WatchedSecret {
  return (raw) => {
    const s = raw as V1Secret;
    const keys: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.data ?? {})) {
      keys[k] = createHmac("sha256", key).update(k).update("\0").update(v).digest("hex").slice(0, 16);
    }
    return {
      name: s.metadata?.name ?? "",
      ...(s.metadata?.namespace ? { namespace: s.metadata.namespace } : {}),
      resourceVersion: s.metadata?.resourceVersion ?? "",
      keys,
    };
  };
}

type Template = NonNullable<V1Deployment["spec"]>["template"] | undefined;

/**
 * What Reloader writes into a pod template, as a digest: its annotation
 * (annotations strategy) or STAKATER_* env vars (env-vars strategy). A
 * Deployment and the ReplicaSet made from its template share it, which is
 * how a reload is matched to the ReplicaSet it created, with no clock.
 */
export function reloadMarker(template: Template, digestKey: Buffer): string | undefined {
  const marks: string[] = [];
  const from = template?.metadata?.annotations?.[LAST_RELOADED_FROM];
  if (from !== undefined) marks.push(from);
  for (const c of template?.spec?.containers ?? []) {
    for (const e of c.env ?? []) if (e.name.startsWith("STAKATER_")) marks.push(`${e.name}=${e.value ?? ""}`);
  }
  if (marks.length === 0) return undefined;
  return createHmac("sha256", digestKey).update(marks.sort().join("\n")).digest("hex").slice(0, 16);
}

export function projectDeployment(raw: unknown, digestKey: Buffer): WatchedDeployment {
  const d = raw as V1Deployment;
  const reloaderAnnotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {})) {
    if (k.includes(RELOADER_PREFIX)) reloaderAnnotations[k] = v;
  }
  const template = d.spec?.template;
  const from = template?.metadata?.annotations?.[LAST_RELOADED_FROM];
  let reloadedAt: number | undefined;
  if (from !== undefined) {
    try {
      const at = (JSON.parse(from) as { observedAt?: number }).observedAt;
      if (typeof at === "number") reloadedAt = at * 1000;
    } catch {
      // An annotation that is not Reloader's JSON still marks a reload; it just carries no time.
    }
  }
  return {
    name: d.metadata?.name ?? "",
    ...(d.metadata?.namespace ? { namespace: d.metadata.namespace } : {}),
    generation: d.metadata?.generation ?? 0,
    replicas: d.spec?.replicas ?? 1,
    readyReplicas: d.status?.readyReplicas ?? 0,
    availableReplicas: d.status?.availableReplicas ?? 0,
    reloaderAnnotations,
    reloadMarker: reloadMarker(template, digestKey),
    reloadedAt,
  };
}

export function projectReplicaSet(raw: unknown, digestKey: Buffer): WatchedReplicaSet {
  const rs = raw as V1ReplicaSet;
  return {
    name: rs.metadata?.name ?? "",
    ...(rs.metadata?.namespace ? { namespace: rs.metadata.namespace } : {}),
    deployment: rs.metadata?.ownerReferences?.find((o) => o.kind === "Deployment")?.name,
    revision: Number(rs.metadata?.annotations?.["deployment.kubernetes.io/revision"] ?? 0) || 0,
    reloadMarker: reloadMarker(rs.spec?.template, digestKey),
    replicas: rs.spec?.replicas ?? 0,
    readyReplicas: rs.status?.readyReplicas ?? 0,
    createdAt: time(rs.metadata?.creationTimestamp),
  };
}

interface RawEvent {
  metadata?: { uid?: string; name?: string; namespace?: string; creationTimestamp?: string | Date };
  reason?: string;
  message?: string;
  type?: string;
  count?: number;
  involvedObject?: { kind?: string; name?: string };
  lastTimestamp?: string | Date;
  eventTime?: string | Date;
  firstTimestamp?: string | Date;
}

export function projectEvent(raw: unknown): WatchedEvent | undefined {
  const e = raw as RawEvent;
  if (!e.reason || !EVENT_REASONS.has(e.reason)) return undefined;
  return {
    uid: e.metadata?.uid ?? e.metadata?.name ?? "",
    ...(e.metadata?.namespace ? { namespace: e.metadata.namespace } : {}),
    reason: e.reason,
    message: (e.message ?? "").slice(0, 400),
    type: e.type ?? "",
    involvedKind: e.involvedObject?.kind ?? "",
    involvedName: e.involvedObject?.name ?? "",
    count: e.count ?? 1,
    lastAt: time(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp),
  };
}
