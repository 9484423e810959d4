import type { ClusterApi } from "../api.ts";
import type { StoreEvent } from "../store.ts";
import type { Pod } from "../types.ts";
import { rfc3339 } from "../util.ts";
import type { EventRecorder } from "./events.ts";
import { WorkQueue } from "./queue.ts";

/**
 * default-scheduler, reduced to spreading: each unscheduled pod goes to the
 * node with the fewest pods, gets PodScheduled=True and a Scheduled event.
 * No resources, affinities or taints are modelled.
 */

export class Scheduler {
  private readonly api: ClusterApi;
  private readonly events: EventRecorder;
  private readonly queue: WorkQueue;
  private readonly unsubscribe: () => void;
  private readonly delayMs: number;

  constructor(api: ClusterApi, events: EventRecorder, delayMs: number) {
    this.api = api;
    this.events = events;
    this.delayMs = delayMs;
    this.queue = new WorkQueue(api.clock, (k) => this.schedule(k));
    this.unsubscribe = api.store.onChange((e) => this.onChange(e));
  }

  stop(): void {
    this.unsubscribe();
    this.queue.stop();
  }

  private onChange(e: StoreEvent): void {
    if (e.storageKey !== "core/pods" || e.type !== "ADDED") return;
    const pod = e.object as Pod;
    if (pod.spec?.nodeName) return;
    this.queue.addAfter(`${pod.metadata.namespace ?? ""}/${pod.metadata.name ?? ""}`, this.delayMs);
  }

  private schedule(key: string): void {
    const slash = key.indexOf("/");
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const podRt = this.api.type("", "pods");
    const pod = this.api.store.get(podRt.storageKey, namespace, name) as Pod | undefined;
    if (!pod || pod.spec.nodeName || pod.metadata.deletionTimestamp !== undefined) return;
    const nodes = this.api.store
      .list("core/nodes")
      .map((n) => n.metadata.name ?? "")
      .sort();
    if (nodes.length === 0) {
      this.queue.addAfter(key, 5000);
      return;
    }
    const load = new Map<string, number>(nodes.map((n) => [n, 0]));
    for (const p of this.api.store.list(podRt.storageKey) as Pod[]) {
      const n = p.spec?.nodeName;
      if (n && load.has(n)) load.set(n, (load.get(n) ?? 0) + 1);
    }
    let best = nodes[0] ?? "";
    for (const n of nodes) if ((load.get(n) ?? 0) < (load.get(best) ?? 0)) best = n;
    const now = this.api.clock.now();
    const bound = this.api.mutate(
      podRt,
      namespace,
      name,
      (o) => {
        const p = o as Pod;
        if (p.spec.nodeName) return false;
        p.spec.nodeName = best;
        return true;
      },
      { fieldManager: "kube-scheduler" },
    );
    if (!bound) return;
    this.api.mutate(
      podRt,
      namespace,
      name,
      (o) => {
        const p = o as Pod;
        const status = p.status ?? {};
        const conditions = (status.conditions ?? []).filter((c) => c.type !== "PodScheduled");
        conditions.push({
          type: "PodScheduled",
          status: "True",
          lastProbeTime: null,
          lastTransitionTime: rfc3339(now),
        });
        status.conditions = conditions;
        p.status = status;
        return true;
      },
      { fieldManager: "kube-scheduler", subresource: "status" },
    );
    this.events.record(pod, "Normal", "Scheduled", `Successfully assigned ${namespace}/${name} to ${best}`, {
      component: "default-scheduler",
    });
  }
}
