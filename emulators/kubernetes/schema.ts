/**
 * The little schema knowledge strategic merge patch and server-side apply
 * need: which lists merge by key (containers by name, env by name, …), which
 * lists are sets, and which maps are atomic. It follows the patchMergeKey /
 * listType / mapType markers of the Kubernetes types for the fields the lab
 * and the bot touch; any other list is atomic, as for a CRD without markers.
 */

export type ListKind = { type: "map"; keys: string[] } | { type: "set" } | { type: "atomic" };

/** Associative lists keyed by field name, whatever their parent. */
const MAP_LISTS: Record<string, string[]> = {
  containers: ["name"],
  initContainers: ["name"],
  ephemeralContainers: ["name"],
  env: ["name"],
  volumes: ["name"],
  volumeMounts: ["mountPath"],
  volumeDevices: ["devicePath"],
  imagePullSecrets: ["name"],
  conditions: ["type"],
  ownerReferences: ["uid"],
  hostAliases: ["ip"],
  resourceClaims: ["name"],
  podIPs: ["ip"],
  hostIPs: ["ip"],
  topologySpreadConstraints: ["topologyKey", "whenUnsatisfiable"],
};

/**
 * Which list is which. `path` is the chain of field names from the root, list
 * positions left out (e.g. ["spec","template","spec","containers","ports"]).
 */
export function listKind(path: readonly string[], forApply: boolean): ListKind {
  const last = path[path.length - 1] ?? "";
  const parent = path[path.length - 2] ?? "";
  if (last === "finalizers" && (parent === "metadata" || parent === "spec")) return { type: "set" };
  if (last === "ports" && parent === "containers") {
    // SSA keys container ports by port and protocol; strategic merge patch by port alone.
    return { type: "map", keys: forApply ? ["containerPort", "protocol"] : ["containerPort"] };
  }
  if (last === "secrets" && path.length === 1) return { type: "map", keys: ["name"] };
  // ServiceAccount.secrets and the like aside, "secrets"/"data" lists of CRDs stay atomic.
  const keys = MAP_LISTS[last];
  if (keys) {
    // status.conditions of a deployment or pod, metadata.ownerReferences, … all qualify.
    return { type: "map", keys };
  }
  return { type: "atomic" };
}

/** Maps and structs that SSA treats as one value (x-kubernetes-map-type: atomic). */
export function isAtomicObject(path: readonly string[]): boolean {
  const last = path[path.length - 1] ?? "";
  const parent = path[path.length - 2] ?? "";
  if (last === "selector" && parent === "spec" && path.length === 2) return true;
  if (
    parent === "valueFrom" &&
    (last === "secretKeyRef" ||
      last === "configMapKeyRef" ||
      last === "fieldRef" ||
      last === "resourceFieldRef")
  ) {
    return true;
  }
  if ((last === "secretRef" || last === "configMapRef") && parent === "envFrom") return true;
  return false;
}

/** Fields the field manager never tracks. */
export function isUntrackedField(path: readonly string[]): boolean {
  if (path.length === 1) return path[0] === "apiVersion" || path[0] === "kind";
  if (path.length === 2 && path[0] === "metadata") {
    return (
      path[1] === "name" ||
      path[1] === "namespace" ||
      path[1] === "uid" ||
      path[1] === "resourceVersion" ||
      path[1] === "generation" ||
      path[1] === "creationTimestamp" ||
      path[1] === "deletionTimestamp" ||
      path[1] === "deletionGracePeriodSeconds" ||
      path[1] === "managedFields" ||
      path[1] === "selfLink" ||
      path[1] === "generateName"
    );
  }
  return false;
}
