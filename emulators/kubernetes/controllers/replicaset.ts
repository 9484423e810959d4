import { ApiError } from "../errors.ts";
import type { StoreEvent } from "../store.ts";
import type { Condition, Pod, ReplicaSet, ReplicaSetStatus } from "../types.ts";
import { clone, deepEqual, rfc3339 } from "../util.ts";
import { controllerRef, deletionOrder, isPodActive, isPodAvailable, isPodReady } from "./pods.ts";
import { KeyedController } from "./queue.ts";

/**
 * The ReplicaSet controller: keeps `spec.replicas` active pods created from
 * the template (owned with a controller reference), deletes the least
 * valuable ones first when there are too many, and reports replicas, ready
 * and available counts in the status.
 */

const MANAGER = "kube-controller-manager";
const SOURCE = { component: "replicaset-controller" };

export class ReplicaSetController extends KeyedController {
  protected override onChange(e: StoreEvent): void {
    if (e.storageKey === "apps/replicasets") {
      this.enqueue(e.object);
    } else if (e.storageKey === "core/pods") {
      for (const o of [e.object, e.prev]) {
        const ref = o ? controllerRef(o) : undefined;
        if (ref?.kind === "ReplicaSet") this.queue.add(`${o?.metadata.namespace ?? ""}/${ref.name}`);
      }
    }
  }

  protected override sync(key: string): void {
    const slash = key.indexOf("/");
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const rsRt = this.api.type("apps", "replicasets");
    const podRt = this.api.type("", "pods");
    const rs = this.api.store.get(rsRt.storageKey, namespace, name) as ReplicaSet | undefined;
    if (!rs) return;
    const uid = rs.metadata.uid ?? "";
    const pods = this.api.store
      .dependentsOf(uid)
      .filter((d) => d.storageKey === podRt.storageKey && controllerRef(d.object)?.uid === uid)
      .map((d) => d.object as Pod);
    const active = pods.filter(isPodActive);
    const want = rs.spec.replicas ?? 1;
    let failure: Condition | undefined;
    if (rs.metadata.deletionTimestamp === undefined) {
      if (active.length < want) {
        failure = this.createPods(rs, want - active.length);
      } else if (active.length > want) {
        const victims = [...active].sort(deletionOrder).slice(0, active.length - want);
        for (const p of victims) {
          try {
            this.api.delete(podRt, namespace, p.metadata.name ?? "");
            this.events.record(
              rs,
              "Normal",
              "SuccessfulDelete",
              `Deleted pod: ${p.metadata.name ?? ""}`,
              SOURCE,
            );
          } catch (e) {
            if (!(e instanceof ApiError) || e.code !== 404) throw e;
          }
        }
      }
    }
    this.syncStatus(rs, failure);
  }

  private createPods(rs: ReplicaSet, count: number): Condition | undefined {
    const podRt = this.api.type("", "pods");
    const template = rs.spec.template;
    for (let i = 0; i < count; i++) {
      const pod: Pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          generateName: `${rs.metadata.name ?? ""}-`,
          namespace: rs.metadata.namespace,
          labels: clone(template.metadata?.labels ?? {}),
          ownerReferences: [
            {
              apiVersion: "apps/v1",
              kind: "ReplicaSet",
              name: rs.metadata.name ?? "",
              uid: rs.metadata.uid ?? "",
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: clone(template.spec),
      };
      if (template.metadata?.annotations) pod.metadata.annotations = clone(template.metadata.annotations);
      try {
        const created = this.api.create(podRt, rs.metadata.namespace, pod, { fieldManager: MANAGER });
        this.events.record(
          rs,
          "Normal",
          "SuccessfulCreate",
          `Created pod: ${created.metadata.name ?? ""}`,
          SOURCE,
        );
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        const message = `Error creating: ${e.message}`;
        this.events.record(rs, "Warning", "FailedCreate", message, SOURCE);
        // The real controller retries on its rate limiter; pod creation is retried here on a back-off.
        this.queue.addAfter(`${rs.metadata.namespace ?? ""}/${rs.metadata.name ?? ""}`, 5000);
        return {
          type: "ReplicaFailure",
          status: "True",
          reason: "FailedCreate",
          message: e.message,
          lastTransitionTime: rfc3339(this.api.clock.now()),
        };
      }
    }
    return undefined;
  }

  private syncStatus(rs: ReplicaSet, failure: Condition | undefined): void {
    const podRt = this.api.type("", "pods");
    const uid = rs.metadata.uid ?? "";
    const now = this.api.clock.now();
    const pods = this.api.store
      .dependentsOf(uid)
      .filter((d) => d.storageKey === podRt.storageKey && controllerRef(d.object)?.uid === uid)
      .map((d) => d.object as Pod)
      .filter(isPodActive);
    const minReady = rs.spec.minReadySeconds ?? 0;
    const templateLabels = rs.spec.template.metadata?.labels ?? {};
    const status: ReplicaSetStatus = {
      replicas: pods.length,
      fullyLabeledReplicas: pods.filter((p) =>
        Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v),
      ).length,
      readyReplicas: pods.filter(isPodReady).length,
      availableReplicas: pods.filter((p) => isPodAvailable(p, minReady, now)).length,
    };
    if (rs.metadata.generation !== undefined) status.observedGeneration = rs.metadata.generation;
    // Zero counts are omitted on the wire (omitempty), as the real status shows.
    if (status.fullyLabeledReplicas === 0) delete status.fullyLabeledReplicas;
    if (status.readyReplicas === 0) delete status.readyReplicas;
    if (status.availableReplicas === 0) delete status.availableReplicas;
    const previous = (rs.status ?? { replicas: 0 }) as ReplicaSetStatus & { conditions?: Condition[] };
    const prevFailure = previous.conditions?.find((c) => c.type === "ReplicaFailure");
    const conditions = (previous.conditions ?? []).filter((c) => c.type !== "ReplicaFailure");
    if (failure)
      conditions.push(prevFailure && prevFailure.message === failure.message ? prevFailure : failure);
    const next: ReplicaSetStatus & { conditions?: Condition[] } = { ...status };
    if (conditions.length > 0) next.conditions = conditions;
    if (deepEqual(previous, next)) {
      this.recheckAvailability(rs, pods, minReady, now);
      return;
    }
    const rsRt = this.api.type("apps", "replicasets");
    this.api.mutate(
      rsRt,
      rs.metadata.namespace,
      rs.metadata.name ?? "",
      (o) => {
        o.status = next;
        return true;
      },
      { fieldManager: MANAGER, subresource: "status" },
    );
    this.recheckAvailability(rs, pods, minReady, now);
  }

  /** With minReadySeconds, a ready pod becomes available later without any change to notice: look again then. */
  private recheckAvailability(rs: ReplicaSet, pods: Pod[], minReady: number, now: number): void {
    if (minReady <= 0) return;
    for (const p of pods) {
      if (isPodReady(p) && !isPodAvailable(p, minReady, now)) {
        this.queue.addAfter(`${rs.metadata.namespace ?? ""}/${rs.metadata.name ?? ""}`, minReady * 1000);
        return;
      }
    }
  }
}
