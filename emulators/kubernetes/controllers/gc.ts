import type { ClusterApi } from "../api.ts";
import { ApiError } from "../errors.ts";
import { RESOURCES, type ResourceType, resourceForKind } from "../resources.ts";
import type { StoreEvent } from "../store.ts";
import type { KubeObject, Namespace, OwnerReference } from "../types.ts";
import { WorkQueue } from "./queue.ts";

/**
 * The garbage collector and the namespace controller. Dependents whose
 * owners are all gone are deleted (background cascade); a dependent with
 * some owners left loses only the dangling references; an owner deleted in
 * the foreground waits, behind its `foregroundDeletion` finalizer, for its
 * dependents to go; `orphan` strips the references instead. A terminating
 * namespace is emptied and then removed.
 */

const MANAGER = "kube-controller-manager";

function resourceByStorageKey(storageKey: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.storageKey === storageKey && r.view === undefined);
}

export class GarbageCollector {
  private readonly api: ClusterApi;
  private readonly queue: WorkQueue;
  private readonly unsubscribe: () => void;

  constructor(api: ClusterApi) {
    this.api = api;
    this.queue = new WorkQueue(api.clock, (k) => this.process(k));
    this.unsubscribe = api.store.onChange((e) => this.onChange(e));
  }

  stop(): void {
    this.unsubscribe();
    this.queue.stop();
  }

  private keyOf(storageKey: string, o: KubeObject): string {
    return `${storageKey}|${o.metadata.namespace ?? ""}|${o.metadata.name ?? ""}`;
  }

  private onChange(e: StoreEvent): void {
    const o = e.object;
    if (e.type === "DELETED") {
      const uid = o.metadata.uid;
      if (uid)
        for (const d of this.api.store.dependentsOf(uid))
          this.queue.add(`dep|${this.keyOf(d.storageKey, d.object)}`);
      // An owner deleted in the foreground may have been waiting for this one.
      this.requeueOwners(o);
      return;
    }
    if (o.kind === "Namespace" && o.metadata.deletionTimestamp !== undefined) {
      this.queue.add(`ns|${o.metadata.name ?? ""}`);
      return;
    }
    const finalizers = o.metadata.finalizers ?? [];
    if (
      o.metadata.deletionTimestamp !== undefined &&
      (finalizers.includes("foregroundDeletion") || finalizers.includes("orphan"))
    ) {
      this.queue.add(`owner|${this.keyOf(e.storageKey, o)}`);
    }
    if (e.type === "ADDED" && (o.metadata.ownerReferences ?? []).length > 0) {
      this.queue.add(`dep|${this.keyOf(e.storageKey, o)}`);
    }
    // A dependent going away may unblock an owner deleted in the foreground.
    if (o.metadata.deletionTimestamp !== undefined) this.requeueOwners(o);
  }

  private requeueOwners(o: KubeObject): void {
    for (const ref of o.metadata.ownerReferences ?? []) {
      const owner = this.lookupOwner(ref, o.metadata.namespace);
      if (owner?.object.metadata.deletionTimestamp !== undefined) {
        this.queue.add(`owner|${this.keyOf(owner.rt.storageKey, owner.object)}`);
      }
    }
  }

  private lookupOwner(
    ref: OwnerReference,
    namespace: string | undefined,
  ): { rt: ResourceType; object: KubeObject } | undefined {
    const rt = resourceForKind(RESOURCES, ref.apiVersion, ref.kind);
    if (!rt) return undefined;
    const o = this.api.store.get(rt.storageKey, rt.namespaced ? namespace : undefined, ref.name);
    if (!o || o.metadata.uid !== ref.uid) return undefined;
    return { rt, object: o };
  }

  private process(key: string): void {
    const [kind, storageKey = "", namespace = "", name = ""] = key.split("|");
    if (kind === "ns") {
      this.cleanNamespace(storageKey);
      return;
    }
    const rt = resourceByStorageKey(storageKey);
    if (!rt) return;
    const obj = this.api.store.get(storageKey, namespace === "" ? undefined : namespace, name);
    if (!obj) return;
    if (kind === "dep") this.attemptToDelete(rt, obj);
    else this.processDeletingOwner(rt, obj);
  }

  private attemptToDelete(rt: ResourceType, obj: KubeObject): void {
    const refs = obj.metadata.ownerReferences ?? [];
    if (refs.length === 0) return;
    const dangling: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    const solid: OwnerReference[] = [];
    for (const ref of refs) {
      const owner = this.lookupOwner(ref, obj.metadata.namespace);
      if (!owner) dangling.push(ref);
      else if (
        owner.object.metadata.deletionTimestamp !== undefined &&
        (owner.object.metadata.finalizers ?? []).includes("foregroundDeletion")
      ) {
        waiting.push(ref);
      } else solid.push(ref);
    }
    if (solid.length > 0) {
      if (dangling.length === 0) return;
      const gone = new Set(dangling.map((d) => d.uid));
      this.api.mutate(
        rt,
        obj.metadata.namespace,
        obj.metadata.name ?? "",
        (o) => {
          o.metadata.ownerReferences = (o.metadata.ownerReferences ?? []).filter((r) => !gone.has(r.uid));
          return true;
        },
        { fieldManager: MANAGER },
      );
      return;
    }
    if (dangling.length === 0 && waiting.length === 0) return;
    if (obj.metadata.deletionTimestamp !== undefined) return;
    const policy = waiting.length > 0 && dangling.length === 0 ? "Foreground" : "Background";
    try {
      this.api.delete(rt, obj.metadata.namespace, obj.metadata.name ?? "", { propagationPolicy: policy });
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== 404) throw e;
    }
  }

  private processDeletingOwner(rt: ResourceType, owner: KubeObject): void {
    const uid = owner.metadata.uid ?? "";
    const finalizers = owner.metadata.finalizers ?? [];
    const dependents = this.api.store.dependentsOf(uid);
    if (finalizers.includes("orphan")) {
      for (const d of dependents) {
        const drt = resourceByStorageKey(d.storageKey);
        if (!drt) continue;
        this.api.mutate(
          drt,
          d.object.metadata.namespace,
          d.object.metadata.name ?? "",
          (o) => {
            o.metadata.ownerReferences = (o.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
            if (o.metadata.ownerReferences.length === 0) delete o.metadata.ownerReferences;
            return true;
          },
          { fieldManager: MANAGER },
        );
      }
      this.removeFinalizer(rt, owner, "orphan");
      return;
    }
    if (!finalizers.includes("foregroundDeletion")) return;
    let blocking = 0;
    for (const d of dependents) {
      const drt = resourceByStorageKey(d.storageKey);
      if (!drt) continue;
      const ref = (d.object.metadata.ownerReferences ?? []).find((r) => r.uid === uid);
      if (ref?.blockOwnerDeletion) blocking++;
      if (d.object.metadata.deletionTimestamp === undefined) {
        try {
          this.api.delete(drt, d.object.metadata.namespace, d.object.metadata.name ?? "", {
            propagationPolicy: "Foreground",
          });
        } catch (e) {
          if (!(e instanceof ApiError) || e.code !== 404) throw e;
        }
      }
    }
    if (blocking === 0) this.removeFinalizer(rt, owner, "foregroundDeletion");
  }

  private removeFinalizer(rt: ResourceType, obj: KubeObject, finalizer: string): void {
    this.api.mutate(
      rt,
      obj.metadata.namespace,
      obj.metadata.name ?? "",
      (o) => {
        o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((f) => f !== finalizer);
        if (o.metadata.finalizers.length === 0) delete o.metadata.finalizers;
        return true;
      },
      { fieldManager: MANAGER },
    );
  }

  private cleanNamespace(name: string): void {
    const nsRt = this.api.type("", "namespaces");
    const ns = this.api.store.get(nsRt.storageKey, undefined, name) as Namespace | undefined;
    if (!ns || ns.metadata.deletionTimestamp === undefined) return;
    let remaining = 0;
    for (const rt of RESOURCES) {
      if (!rt.namespaced || rt.view !== undefined) continue;
      for (const o of this.api.store.list(rt.storageKey, name)) {
        remaining++;
        if (o.metadata.deletionTimestamp !== undefined) continue;
        try {
          this.api.delete(rt, name, o.metadata.name ?? "", { propagationPolicy: "Background" });
        } catch (e) {
          if (!(e instanceof ApiError) || e.code !== 404) throw e;
        }
      }
    }
    if (remaining > 0) {
      // Pods leave through the kubelet after their grace period; look again shortly.
      this.queue.addAfter(`ns|${name}`, 1000);
      return;
    }
    this.api.removeNamespace(name);
  }
}
