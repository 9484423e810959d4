import { ApiError } from "../errors.ts";
import type { StoreEvent } from "../store.ts";
import type { KubeObject, Pod, PodTemplateSpec } from "../types.ts";
import { clone, deepEqual } from "../util.ts";
import { controllerRef, isPodActive, isPodReady } from "./pods.ts";
import { KeyedController } from "./queue.ts";

/**
 * A DaemonSet controller reduced to what the addon's pods need: one pod per
 * node (bound to it directly), replaced when gone, and the status counts.
 * No rolling update of the template.
 */

const MANAGER = "kube-controller-manager";
const SOURCE = { component: "daemonset-controller" };

interface DaemonSet extends KubeObject {
  spec: { template: PodTemplateSpec; selector?: unknown };
  status?: Record<string, number>;
}

export class DaemonSetController extends KeyedController {
  protected override onChange(e: StoreEvent): void {
    if (e.storageKey === "apps/daemonsets") {
      this.enqueue(e.object);
    } else if (e.storageKey === "core/pods") {
      const ref = controllerRef(e.object);
      if (ref?.kind === "DaemonSet") this.enqueue(e.object, ref.name);
    } else if (e.storageKey === "core/nodes" && e.type !== "MODIFIED") {
      for (const ds of this.api.store.list("apps/daemonsets")) {
        this.enqueue(ds);
      }
    }
  }

  protected override sync(key: string): void {
    const slash = key.indexOf("/");
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const ds = this.api.store.get("apps/daemonsets", ns, name) as DaemonSet | undefined;
    if (!ds || ds.metadata.deletionTimestamp !== undefined) return;
    const uid = ds.metadata.uid ?? "";
    const pods = this.api.store
      .dependentsOf(uid)
      .filter((d) => d.storageKey === "core/pods" && controllerRef(d.object)?.uid === uid)
      .map((d) => d.object as Pod)
      .filter(isPodActive);
    const nodes = this.api.store.list("core/nodes").map((n) => n.metadata.name ?? "");
    const podRt = this.api.type("", "pods");
    for (const node of nodes) {
      if (pods.some((p) => p.spec.nodeName === node)) continue;
      const pod: Pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          generateName: `${name}-`,
          namespace: ns,
          labels: clone(ds.spec.template.metadata?.labels ?? {}),
          ownerReferences: [
            {
              apiVersion: "apps/v1",
              kind: "DaemonSet",
              name,
              uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: { ...clone(ds.spec.template.spec), nodeName: node },
      };
      try {
        const created = this.api.create(podRt, ns, pod, { fieldManager: MANAGER });
        this.events.record(
          ds,
          "Normal",
          "SuccessfulCreate",
          `Created pod: ${created.metadata.name ?? ""}`,
          SOURCE,
        );
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        this.events.record(ds, "Warning", "FailedCreate", `Error creating: ${e.message}`, SOURCE);
        this.queue.addAfter(key, 5000);
      }
    }
    for (const p of pods) {
      if (nodes.includes(p.spec.nodeName ?? "")) continue;
      try {
        this.api.delete(podRt, ns, p.metadata.name ?? "");
      } catch {
        // Already going.
      }
    }
    const status = {
      currentNumberScheduled: pods.length,
      desiredNumberScheduled: nodes.length,
      numberMisscheduled: 0,
      numberReady: pods.filter(isPodReady).length,
      numberAvailable: pods.filter(isPodReady).length,
      updatedNumberScheduled: pods.length,
      observedGeneration: ds.metadata.generation ?? 1,
    };
    if (deepEqual(ds.status, status)) return;
    this.api.mutate(
      this.api.type("apps", "daemonsets"),
      ns,
      name,
      (o) => {
        o.status = status;
        return true;
      },
      { fieldManager: MANAGER, subresource: "status" },
    );
  }
}
