import { ApiError } from "../errors.ts";
import type { StoreEvent } from "../store.ts";
import type { Condition, Deployment, DeploymentStatus, Pod, PodTemplateSpec, ReplicaSet } from "../types.ts";
import { canonicalJson, clone, deepEqual, fnv32a, intOrPercent, rfc3339, safeEncodeString } from "../util.ts";
import { controllerRef } from "./pods.ts";
import { KeyedController } from "./queue.ts";

/**
 * The Deployment controller (pkg/controller/deployment): one ReplicaSet per
 * pod template, named by the template hash and labelled pod-template-hash;
 * rolling updates within maxSurge/maxUnavailable (25%/25% by default, surge
 * rounded up and unavailability down), Recreate, revision annotations,
 * cleanup beyond revisionHistoryLimit, and the status with its Available and
 * Progressing conditions and observedGeneration.
 */

const MANAGER = "kube-controller-manager";
const SOURCE = { component: "deployment-controller" };
export const REVISION = "deployment.kubernetes.io/revision";
const DESIRED = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS = "deployment.kubernetes.io/max-replicas";
const HASH_LABEL = "pod-template-hash";

/** ComputeHash: FNV-32a of the template (and collision count), safe-encoded. */
export function templateHash(template: PodTemplateSpec, collisionCount = 0): string {
  const text = canonicalJson(template) + (collisionCount > 0 ? String(collisionCount) : "");
  return safeEncodeString(String(fnv32a(text)));
}

function withoutHash(t: PodTemplateSpec | undefined): unknown {
  if (!t) return t;
  const c = clone(t);
  if (c.metadata?.labels) {
    delete c.metadata.labels[HASH_LABEL];
    if (Object.keys(c.metadata.labels).length === 0) delete c.metadata.labels;
  }
  return c;
}

function revisionOf(rs: ReplicaSet): number {
  const n = Number(rs.metadata.annotations?.[REVISION] ?? "0");
  return Number.isFinite(n) ? n : 0;
}

function replicasOf(rs: ReplicaSet): number {
  return rs.spec.replicas ?? 0;
}

function maxSurge(d: Deployment): number {
  if (d.spec.strategy?.type !== "RollingUpdate") return 0;
  const replicas = d.spec.replicas ?? 1;
  const surge = intOrPercent(d.spec.strategy.rollingUpdate?.maxSurge, replicas, true);
  const unavailable = intOrPercent(d.spec.strategy.rollingUpdate?.maxUnavailable, replicas, false);
  // ResolveFenceposts: both zero would stall the rollout, so unavailability becomes one.
  return surge === 0 && unavailable === 0 ? 0 : surge;
}

function maxUnavailable(d: Deployment): number {
  const replicas = d.spec.replicas ?? 1;
  if (d.spec.strategy?.type !== "RollingUpdate" || replicas === 0) return 0;
  const surge = intOrPercent(d.spec.strategy.rollingUpdate?.maxSurge, replicas, true);
  let unavailable = intOrPercent(d.spec.strategy.rollingUpdate?.maxUnavailable, replicas, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return Math.min(unavailable, replicas);
}

function condition(
  type: string,
  status: "True" | "False",
  reason: string,
  message: string,
  now: string,
): Condition {
  return { type, status, lastUpdateTime: now, lastTransitionTime: now, reason, message };
}

/** SetDeploymentCondition: same status and reason leaves the condition alone; a new reason keeps the transition time. */
function setCondition(conditions: Condition[], c: Condition, forceUpdate = false): Condition[] {
  const current = conditions.find((x) => x.type === c.type);
  if (current && current.status === c.status && current.reason === c.reason && !forceUpdate)
    return conditions;
  const next = { ...c };
  if (current && current.status === c.status)
    next.lastTransitionTime = current.lastTransitionTime ?? c.lastTransitionTime ?? null;
  return [...conditions.filter((x) => x.type !== c.type), next];
}

export class DeploymentController extends KeyedController {
  /** Rollouts started for a changed template (new ReplicaSets beyond the first), for the inventory. */
  rollouts = 0;

  protected override onChange(e: StoreEvent): void {
    if (e.storageKey === "apps/deployments") {
      this.enqueue(e.object);
    } else if (e.storageKey === "apps/replicasets") {
      const ref = controllerRef(e.object);
      if (ref?.kind === "Deployment") this.enqueue(e.object, ref.name);
    } else if (e.storageKey === "core/pods" && e.type === "DELETED") {
      // Recreate waits for the old pods to be gone, which no ReplicaSet status shows.
      const rsRef = controllerRef(e.object);
      if (rsRef?.kind !== "ReplicaSet") return;
      const rs = this.api.store.get("apps/replicasets", e.object.metadata.namespace, rsRef.name);
      const dRef = rs ? controllerRef(rs) : undefined;
      if (dRef?.kind === "Deployment") this.queue.add(`${e.object.metadata.namespace ?? ""}/${dRef.name}`);
    }
  }

  private ownedReplicaSets(d: Deployment): ReplicaSet[] {
    const uid = d.metadata.uid ?? "";
    return this.api.store
      .dependentsOf(uid)
      .filter((x) => x.storageKey === "apps/replicasets" && controllerRef(x.object)?.uid === uid)
      .map((x) => x.object as ReplicaSet)
      .sort(
        (a, b) =>
          Date.parse(a.metadata.creationTimestamp ?? "") - Date.parse(b.metadata.creationTimestamp ?? ""),
      );
  }

  protected override sync(key: string): void {
    const slash = key.indexOf("/");
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const d = this.api.store.get("apps/deployments", namespace, name) as Deployment | undefined;
    if (!d || d.metadata.deletionTimestamp !== undefined) return;
    const all = this.ownedReplicaSets(d);
    let newRS = all.find((rs) => deepEqual(withoutHash(rs.spec.template), withoutHash(d.spec.template)));
    const oldRSs = all.filter((rs) => rs !== newRS);
    if (d.spec.paused) {
      this.syncStatus(d, newRS, oldRSs);
      return;
    }
    if (!newRS) {
      newRS = this.createNewReplicaSet(d, oldRSs);
      if (!newRS) return;
    } else {
      newRS = this.ensureRevision(d, newRS, oldRSs);
    }
    this.syncDeploymentRevision(d, newRS);
    if (d.spec.strategy?.type === "Recreate") this.rolloutRecreate(d, newRS, oldRSs);
    else this.rolloutRolling(d, newRS, oldRSs);
    const fresh = (rs: ReplicaSet) =>
      (this.api.store.get("apps/replicasets", namespace, rs.metadata.name ?? "") as ReplicaSet | undefined) ??
      rs;
    this.syncStatus(d, fresh(newRS), oldRSs.map(fresh));
  }

  private createNewReplicaSet(d: Deployment, oldRSs: ReplicaSet[]): ReplicaSet | undefined {
    const rsRt = this.api.type("apps", "replicasets");
    const maxOld = oldRSs.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
    let collisionCount = d.status?.collisionCount ?? 0;
    for (let attempt = 0; attempt < 5; attempt++) {
      const hash = templateHash(d.spec.template, collisionCount);
      const name = `${d.metadata.name ?? ""}-${hash}`;
      const template = clone(d.spec.template);
      template.metadata = { ...(template.metadata ?? {}) };
      template.metadata.labels = { ...(template.metadata.labels ?? {}), [HASH_LABEL]: hash };
      const selector = clone(d.spec.selector);
      selector.matchLabels = { ...(selector.matchLabels ?? {}), [HASH_LABEL]: hash };
      const replicas = d.spec.replicas ?? 1;
      // NewRSNewReplicas for a fresh ReplicaSet of size zero.
      const newReplicas = this.newRSReplicas(d, [...oldRSs], 0);
      const rs: ReplicaSet = {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: {
          name,
          namespace: d.metadata.namespace,
          labels: { ...(template.metadata.labels ?? {}) },
          annotations: {
            [DESIRED]: String(replicas),
            [MAX_REPLICAS]: String(replicas + maxSurge(d)),
            [REVISION]: String(maxOld + 1),
          },
          ownerReferences: [
            {
              apiVersion: "apps/v1",
              kind: "Deployment",
              name: d.metadata.name ?? "",
              uid: d.metadata.uid ?? "",
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: { replicas: newReplicas, selector, template },
      };
      if (d.spec.minReadySeconds !== undefined) rs.spec.minReadySeconds = d.spec.minReadySeconds;
      try {
        const createdRs = this.api.create(rsRt, d.metadata.namespace, rs, {
          fieldManager: MANAGER,
        }) as ReplicaSet;
        if (oldRSs.length > 0) this.rollouts++;
        if (newReplicas > 0) {
          this.events.record(
            d,
            "Normal",
            "ScalingReplicaSet",
            `Scaled up replica set ${name} to ${newReplicas} from 0`,
            SOURCE,
          );
        }
        this.setProgressing(d, "NewReplicaSetCreated", `Created new replica set "${name}"`);
        return createdRs;
      } catch (e) {
        if (!(e instanceof ApiError) || e.reason !== "AlreadyExists") throw e;
        const existing = this.api.store.get(rsRt.storageKey, d.metadata.namespace, name) as
          | ReplicaSet
          | undefined;
        if (
          existing &&
          controllerRef(existing)?.uid === d.metadata.uid &&
          deepEqual(withoutHash(existing.spec.template), withoutHash(d.spec.template))
        ) {
          return existing;
        }
        // A hash collision: bump collisionCount and try the next name, as the real controller does.
        collisionCount++;
        this.api.mutate(
          this.api.type("apps", "deployments"),
          d.metadata.namespace,
          d.metadata.name ?? "",
          (o) => {
            (o as Deployment).status = { ...((o as Deployment).status ?? {}), collisionCount };
            return true;
          },
          { fieldManager: MANAGER, subresource: "status" },
        );
      }
    }
    return undefined;
  }

  private setProgressing(d: Deployment, reason: string, message: string): void {
    const now = rfc3339(this.api.clock.now());
    this.api.mutate(
      this.api.type("apps", "deployments"),
      d.metadata.namespace,
      d.metadata.name ?? "",
      (o) => {
        const dep = o as Deployment;
        const status = dep.status ?? {};
        status.conditions = setCondition(
          status.conditions ?? [],
          condition("Progressing", "True", reason, message, now),
        );
        dep.status = status;
        return true;
      },
      { fieldManager: MANAGER, subresource: "status" },
    );
  }

  /** An existing ReplicaSet that matches the template again (a rollback) gets the next revision. */
  private ensureRevision(d: Deployment, rs: ReplicaSet, oldRSs: ReplicaSet[]): ReplicaSet {
    const maxOld = oldRSs.reduce((m, x) => Math.max(m, revisionOf(x)), 0);
    const replicas = d.spec.replicas ?? 1;
    const wantRevision = revisionOf(rs) > maxOld ? revisionOf(rs) : maxOld + 1;
    const ann = rs.metadata.annotations ?? {};
    if (
      ann[REVISION] === String(wantRevision) &&
      ann[DESIRED] === String(replicas) &&
      ann[MAX_REPLICAS] === String(replicas + maxSurge(d))
    ) {
      return rs;
    }
    if (revisionOf(rs) <= maxOld) this.rollouts++;
    const out = this.api.mutate(
      this.api.type("apps", "replicasets"),
      rs.metadata.namespace,
      rs.metadata.name ?? "",
      (o) => {
        o.metadata.annotations = {
          ...(o.metadata.annotations ?? {}),
          [REVISION]: String(wantRevision),
          [DESIRED]: String(replicas),
          [MAX_REPLICAS]: String(replicas + maxSurge(d)),
        };
        return true;
      },
      { fieldManager: MANAGER },
    );
    return (out as ReplicaSet | undefined) ?? rs;
  }

  private syncDeploymentRevision(d: Deployment, newRS: ReplicaSet): void {
    const revision = newRS.metadata.annotations?.[REVISION];
    if (revision === undefined || d.metadata.annotations?.[REVISION] === revision) return;
    this.api.mutate(
      this.api.type("apps", "deployments"),
      d.metadata.namespace,
      d.metadata.name ?? "",
      (o) => {
        o.metadata.annotations = { ...(o.metadata.annotations ?? {}), [REVISION]: revision };
        return true;
      },
      { fieldManager: MANAGER },
    );
  }

  /** NewRSNewReplicas: how far the new ReplicaSet may grow within the surge. */
  private newRSReplicas(d: Deployment, allRSs: ReplicaSet[], newReplicas: number): number {
    const replicas = d.spec.replicas ?? 1;
    if (d.spec.strategy?.type === "Recreate") return replicas;
    const current = allRSs.reduce((n, rs) => n + replicasOf(rs), 0) + newReplicas;
    const maxTotal = replicas + maxSurge(d);
    if (current >= maxTotal) return newReplicas;
    const scaleUp = Math.min(maxTotal - current, replicas - newReplicas);
    return newReplicas + Math.max(0, scaleUp);
  }

  private scale(d: Deployment, rs: ReplicaSet, to: number): boolean {
    const from = replicasOf(rs);
    const replicas = d.spec.replicas ?? 1;
    const ann = rs.metadata.annotations ?? {};
    const annotationsStale =
      ann[DESIRED] !== String(replicas) || ann[MAX_REPLICAS] !== String(replicas + maxSurge(d));
    if (from === to && !annotationsStale) return false;
    this.api.mutate(
      this.api.type("apps", "replicasets"),
      rs.metadata.namespace,
      rs.metadata.name ?? "",
      (o) => {
        const r = o as ReplicaSet;
        r.spec.replicas = to;
        r.metadata.annotations = {
          ...(r.metadata.annotations ?? {}),
          [DESIRED]: String(replicas),
          [MAX_REPLICAS]: String(replicas + maxSurge(d)),
        };
        return true;
      },
      { fieldManager: MANAGER },
    );
    rs.spec.replicas = to;
    if (from !== to) {
      const verb = to > from ? "up" : "down";
      this.events.record(
        d,
        "Normal",
        "ScalingReplicaSet",
        `Scaled ${verb} replica set ${rs.metadata.name ?? ""} to ${to} from ${from}`,
        SOURCE,
      );
    }
    return from !== to;
  }

  private rolloutRolling(d: Deployment, newRS: ReplicaSet, oldRSs: ReplicaSet[]): void {
    const replicas = d.spec.replicas ?? 1;
    // Work on copies so the arithmetic sees this sync's own scaling.
    const newCopy = clone(newRS);
    const olds = oldRSs.map((rs) => clone(rs));
    // Scale up the new ReplicaSet if we can.
    if (replicasOf(newCopy) > replicas) {
      if (this.scale(d, newCopy, replicas)) return;
    } else if (replicasOf(newCopy) < replicas) {
      const target = this.newRSReplicas(d, olds, replicasOf(newCopy));
      if (this.scale(d, newCopy, target)) return;
    }
    // Scale down old ReplicaSets if we can.
    const oldPods = olds.reduce((n, rs) => n + replicasOf(rs), 0);
    if (oldPods === 0) {
      this.cleanup(d, olds);
      return;
    }
    const all = [...olds, newCopy];
    const allPods = all.reduce((n, rs) => n + replicasOf(rs), 0);
    const minAvailable = replicas - maxUnavailable(d);
    const newUnavailable = replicasOf(newCopy) - (newCopy.status?.availableReplicas ?? 0);
    const maxScaledDown = allPods - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return;
    // Unhealthy old replicas go first: removing them costs no availability.
    let cleaned = 0;
    for (const rs of olds) {
      if (cleaned >= maxScaledDown) break;
      const unhealthy = replicasOf(rs) - (rs.status?.availableReplicas ?? 0);
      if (replicasOf(rs) === 0 || unhealthy <= 0) continue;
      const n = Math.min(maxScaledDown - cleaned, unhealthy);
      this.scale(d, rs, replicasOf(rs) - n);
      cleaned += n;
    }
    // Then as many available old replicas as availability allows.
    const available = [...olds, newCopy].reduce((n, rs) => n + (rs.status?.availableReplicas ?? 0), 0);
    if (available <= minAvailable) return;
    let toScaleDown = available - minAvailable;
    for (const rs of olds) {
      if (toScaleDown <= 0) break;
      if (replicasOf(rs) === 0) continue;
      const n = Math.min(replicasOf(rs), toScaleDown);
      this.scale(d, rs, replicasOf(rs) - n);
      toScaleDown -= n;
    }
  }

  private rolloutRecreate(d: Deployment, newRS: ReplicaSet, oldRSs: ReplicaSet[]): void {
    let scaledDown = false;
    for (const rs of oldRSs) if (replicasOf(rs) > 0) scaledDown = this.scale(d, clone(rs), 0) || scaledDown;
    if (scaledDown) return;
    const oldPodsRemain = oldRSs.some((rs) =>
      this.api.store.dependentsOf(rs.metadata.uid ?? "").some((x) => {
        if (x.storageKey !== "core/pods") return false;
        const phase = (x.object as Pod).status?.phase;
        return phase !== "Succeeded" && phase !== "Failed";
      }),
    );
    if (oldPodsRemain) return;
    const newCopy = clone(newRS);
    if (replicasOf(newCopy) !== (d.spec.replicas ?? 1)) this.scale(d, newCopy, d.spec.replicas ?? 1);
    else this.cleanup(d, oldRSs);
  }

  /** Keeps revisionHistoryLimit old ReplicaSets that have scaled to zero. */
  private cleanup(d: Deployment, oldRSs: ReplicaSet[]): void {
    const limit = d.spec.revisionHistoryLimit ?? 10;
    const idle = oldRSs
      .filter(
        (rs) =>
          replicasOf(rs) === 0 &&
          (rs.status?.replicas ?? 0) === 0 &&
          rs.metadata.deletionTimestamp === undefined,
      )
      .sort((a, b) => revisionOf(a) - revisionOf(b));
    const excess = idle.length - limit;
    for (let i = 0; i < excess; i++) {
      const rs = idle[i];
      if (!rs) continue;
      try {
        this.api.delete(this.api.type("apps", "replicasets"), rs.metadata.namespace, rs.metadata.name ?? "");
      } catch (e) {
        if (!(e instanceof ApiError) || e.code !== 404) throw e;
      }
    }
  }

  private syncStatus(d: Deployment, newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): void {
    const current =
      (this.api.store.get("apps/deployments", d.metadata.namespace, d.metadata.name ?? "") as
        | Deployment
        | undefined) ?? d;
    const all = newRS ? [...oldRSs, newRS] : oldRSs;
    const replicas = d.spec.replicas ?? 1;
    const nowMs = this.api.clock.now();
    const now = rfc3339(nowMs);
    const sum = (f: (rs: ReplicaSet) => number) => all.reduce((n, rs) => n + f(rs), 0);
    const available = sum((rs) => rs.status?.availableReplicas ?? 0);
    const total = sum(replicasOf);
    const status: DeploymentStatus = {
      observedGeneration: d.metadata.generation ?? 1,
      replicas: sum((rs) => rs.status?.replicas ?? 0),
      updatedReplicas: newRS?.status?.replicas ?? 0,
      readyReplicas: sum((rs) => rs.status?.readyReplicas ?? 0),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, total - available),
    };
    const prev = current.status ?? {};
    if (prev.collisionCount !== undefined) status.collisionCount = prev.collisionCount;
    let conditions = prev.conditions ?? [];
    conditions =
      available >= replicas - maxUnavailable(d)
        ? setCondition(
            conditions,
            condition(
              "Available",
              "True",
              "MinimumReplicasAvailable",
              "Deployment has minimum availability.",
              now,
            ),
          )
        : setCondition(
            conditions,
            condition(
              "Available",
              "False",
              "MinimumReplicasUnavailable",
              "Deployment does not have minimum availability.",
              now,
            ),
          );
    if (d.spec.progressDeadlineSeconds !== undefined && newRS && !d.spec.paused) {
      const rsName = newRS.metadata.name ?? "";
      const complete =
        status.updatedReplicas === replicas &&
        status.replicas === replicas &&
        status.availableReplicas === replicas &&
        (status.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
      const progressed =
        (status.updatedReplicas ?? 0) > (prev.updatedReplicas ?? 0) ||
        (status.readyReplicas ?? 0) > (prev.readyReplicas ?? 0) ||
        (status.availableReplicas ?? 0) > (prev.availableReplicas ?? 0) ||
        (status.replicas ?? 0) - (status.updatedReplicas ?? 0) <
          (prev.replicas ?? 0) - (prev.updatedReplicas ?? 0);
      const progressing = conditions.find((c) => c.type === "Progressing");
      if (complete) {
        conditions = setCondition(
          conditions,
          condition(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            `ReplicaSet "${rsName}" has successfully progressed.`,
            now,
          ),
        );
      } else if (progressed) {
        conditions = setCondition(
          conditions,
          condition(
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            `ReplicaSet "${rsName}" is progressing.`,
            now,
          ),
          progressing?.status === "True",
        );
      } else if (progressing && progressing.reason !== "NewReplicaSetAvailable") {
        const last = Date.parse(progressing.lastUpdateTime ?? "");
        const deadline = last + d.spec.progressDeadlineSeconds * 1000;
        if (Number.isFinite(last) && nowMs >= deadline) {
          conditions = setCondition(
            conditions,
            condition(
              "Progressing",
              "False",
              "ProgressDeadlineExceeded",
              `ReplicaSet "${rsName}" has timed out progressing.`,
              now,
            ),
          );
        } else if (Number.isFinite(last)) {
          this.queue.addAfter(
            `${d.metadata.namespace ?? ""}/${d.metadata.name ?? ""}`,
            deadline - nowMs + 1000,
          );
        }
      }
    }
    if (conditions.length > 0) status.conditions = conditions;
    // Zero counts are omitted on the wire (omitempty).
    for (const k of [
      "replicas",
      "updatedReplicas",
      "readyReplicas",
      "availableReplicas",
      "unavailableReplicas",
    ] as const) {
      if (status[k] === 0) delete status[k];
    }
    if (deepEqual(prev, status)) return;
    this.api.mutate(
      this.api.type("apps", "deployments"),
      d.metadata.namespace,
      d.metadata.name ?? "",
      (o) => {
        (o as Deployment).status = status;
        return true;
      },
      { fieldManager: MANAGER, subresource: "status" },
    );
  }
}
