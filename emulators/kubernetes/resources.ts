import {
  defaultDeployment,
  defaultNamespace,
  defaultPod,
  defaultReplicaSet,
  defaultSecret,
} from "./defaults.ts";
import type { FieldError } from "./errors.ts";
import { coreEventToEventsV1, eventsV1ToCoreEvent } from "./events-view.ts";
import type { Deployment, KubeObject, ReplicaSet, Secret } from "./types.ts";
import {
  validateAnyName,
  validateConfigMap,
  validateDeployment,
  validateGeneric,
  validateNamespace,
  validatePod,
  validateReplicaSet,
  validateSecret,
} from "./validation.ts";

/**
 * The resources each emulated API server serves: what discovery lists, how
 * paths map to storage, and the per-kind defaulting, validation, generation
 * and status-subresource rules of the registry strategies.
 */

export const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export interface ResourceType {
  group: string;
  version: string;
  /** Plural, lower case: the path segment. */
  resource: string;
  kind: string;
  singularName: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  verbs: string[];
  /** Subresources served, each listed in discovery as "resource/sub". */
  subresources: { name: string; kind: string; verbs: string[] }[];
  /** Built-in types take strategic merge patch; custom resources do not (415). */
  builtin: boolean;
  /** With a status subresource, writes to the main resource keep the old status and vice versa. */
  statusSubresource: boolean;
  /** When metadata.generation moves: spec changes, any non-metadata change (CRDs without status), or never. */
  generation: "spec" | "non-metadata" | "none";
  /** Objects live in the store under this key; events.k8s.io/v1 shares core events'. */
  storageKey: string;
  /** Pods terminate gracefully: DELETE marks them and the kubelet removes them. */
  graceful?: boolean;
  /** A different shape of the stored object (events.k8s.io/v1 Event over core/v1 Event). */
  view?: { out(stored: KubeObject): KubeObject; in(given: KubeObject): KubeObject };
  defaults?(obj: KubeObject): void;
  validate?(obj: KubeObject, old: KubeObject | undefined, errs: FieldError[]): void;
  /** Served only while the predicate holds (the CSI CRDs exist once the addon was enabled). */
  servedWhen?: "csiAddon";
}

export function apiVersionOf(r: Pick<ResourceType, "group" | "version">): string {
  return r.group === "" ? r.version : `${r.group}/${r.version}`;
}

export function listKindOf(r: ResourceType): string {
  return `${r.kind}List`;
}

const STATUS_VERBS = ["get", "patch", "update"];

function core(
  resource: string,
  kind: string,
  namespaced: boolean,
  extra: Partial<ResourceType> = {},
): ResourceType {
  return {
    group: "",
    version: "v1",
    resource,
    kind,
    singularName: kind.toLowerCase(),
    namespaced,
    verbs: ALL_VERBS,
    subresources: [],
    builtin: true,
    statusSubresource: false,
    generation: "none",
    storageKey: `core/${resource}`,
    validate: validateGeneric,
    ...extra,
  };
}

function grouped(
  group: string,
  version: string,
  resource: string,
  kind: string,
  namespaced: boolean,
  extra: Partial<ResourceType> = {},
): ResourceType {
  return {
    group,
    version,
    resource,
    kind,
    singularName: kind.toLowerCase(),
    namespaced,
    verbs: ALL_VERBS,
    subresources: [],
    builtin: true,
    statusSubresource: false,
    generation: "none",
    storageKey: `${group}/${resource}`,
    validate: validateGeneric,
    ...extra,
  };
}

export const CSI_GROUP = "secrets-store.csi.x-k8s.io";

export const RESOURCES: ResourceType[] = [
  core("namespaces", "Namespace", false, {
    shortNames: ["ns"],
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    subresources: [
      { name: "finalize", kind: "Namespace", verbs: ["update"] },
      { name: "status", kind: "Namespace", verbs: STATUS_VERBS },
    ],
    statusSubresource: true,
    defaults: (o) => defaultNamespace(o),
    validate: validateNamespace,
  }),
  core("nodes", "Node", false, {
    shortNames: ["no"],
    subresources: [
      { name: "proxy", kind: "NodeProxyOptions", verbs: ["create", "delete", "get", "patch", "update"] },
      { name: "status", kind: "Node", verbs: STATUS_VERBS },
    ],
    statusSubresource: true,
  }),
  core("serviceaccounts", "ServiceAccount", true, {
    shortNames: ["sa"],
    subresources: [{ name: "token", kind: "TokenRequest", verbs: ["create"] }],
  }),
  core("secrets", "Secret", true, { defaults: (o) => defaultSecret(o as Secret), validate: validateSecret }),
  core("configmaps", "ConfigMap", true, { shortNames: ["cm"], validate: validateConfigMap }),
  core("pods", "Pod", true, {
    shortNames: ["po"],
    categories: ["all"],
    subresources: [
      { name: "log", kind: "Pod", verbs: ["get"] },
      { name: "proxy", kind: "PodProxyOptions", verbs: ["create", "delete", "get", "patch", "update"] },
      { name: "status", kind: "Pod", verbs: STATUS_VERBS },
    ],
    statusSubresource: true,
    graceful: true,
    defaults: (o) => defaultPod(o),
    validate: validatePod,
  }),
  core("events", "Event", true, { shortNames: ["ev"], validate: validateAnyName }),
  grouped("apps", "v1", "deployments", "Deployment", true, {
    shortNames: ["deploy"],
    categories: ["all"],
    subresources: [
      { name: "scale", kind: "Scale", verbs: STATUS_VERBS },
      { name: "status", kind: "Deployment", verbs: STATUS_VERBS },
    ],
    statusSubresource: true,
    generation: "spec",
    defaults: (o) => defaultDeployment(o as Deployment),
    validate: validateDeployment,
  }),
  grouped("apps", "v1", "replicasets", "ReplicaSet", true, {
    shortNames: ["rs"],
    categories: ["all"],
    subresources: [
      { name: "scale", kind: "Scale", verbs: STATUS_VERBS },
      { name: "status", kind: "ReplicaSet", verbs: STATUS_VERBS },
    ],
    statusSubresource: true,
    generation: "spec",
    defaults: (o) => defaultReplicaSet(o as ReplicaSet),
    validate: validateReplicaSet,
  }),
  grouped("apps", "v1", "daemonsets", "DaemonSet", true, {
    shortNames: ["ds"],
    categories: ["all"],
    subresources: [{ name: "status", kind: "DaemonSet", verbs: STATUS_VERBS }],
    statusSubresource: true,
    generation: "spec",
  }),
  grouped("events.k8s.io", "v1", "events", "Event", true, {
    shortNames: ["ev"],
    storageKey: "core/events",
    view: { out: coreEventToEventsV1, in: eventsV1ToCoreEvent },
    validate: validateAnyName,
  }),
  grouped("rbac.authorization.k8s.io", "v1", "roles", "Role", true, { validate: validateAnyName }),
  grouped("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, {
    validate: validateAnyName,
  }),
  grouped("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, {
    validate: validateAnyName,
  }),
  grouped("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, {
    validate: validateAnyName,
  }),
  grouped(CSI_GROUP, "v1", "secretproviderclasses", "SecretProviderClass", true, {
    builtin: false,
    generation: "non-metadata",
    servedWhen: "csiAddon",
  }),
  grouped(CSI_GROUP, "v1", "secretproviderclasspodstatuses", "SecretProviderClassPodStatus", true, {
    builtin: false,
    generation: "non-metadata",
    servedWhen: "csiAddon",
  }),
];

/** Groups in the order /apis lists them. */
export function apiGroups(resources: readonly ResourceType[]): { name: string; versions: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const r of resources) {
    if (r.group === "") continue;
    const versions = groups.get(r.group) ?? [];
    if (!versions.includes(r.version)) versions.push(r.version);
    groups.set(r.group, versions);
  }
  return [...groups].map(([name, versions]) => ({ name, versions }));
}

export function findResource(
  resources: readonly ResourceType[],
  group: string,
  version: string,
  resource: string,
): ResourceType | undefined {
  return resources.find((r) => r.group === group && r.version === version && r.resource === resource);
}

export function resourceForKind(
  resources: readonly ResourceType[],
  apiVersion: string,
  kind: string,
): ResourceType | undefined {
  return resources.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind && r.view === undefined);
}
