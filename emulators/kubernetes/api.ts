import { parse as parseYaml } from "yaml";
import type { EmulatorClock } from "../shared/clock.ts";
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  type FieldError,
  forbidden,
  invalid,
  notFound,
  resourceExpired,
  STALE_OBJECT,
  type StatusBody,
  unsupportedMediaType,
} from "./errors.ts";
import { recordUpdate, serverSideApply } from "./managed-fields.ts";
import { jsonPatch, mergePatch, strategicMergePatch } from "./patch.ts";
import { apiVersionOf, listKindOf, RESOURCES, type ResourceType } from "./resources.ts";
import {
  type FieldRequirement,
  type LabelRequirement,
  matchesAll,
  matchesFields,
  parseFieldSelector,
  parseLabelSelector,
} from "./selectors.ts";
import {
  eventJson,
  type HistoryEntry,
  type ObjectStore,
  objectKey,
  previousJson,
  type Selectable,
  type StoreEvent,
} from "./store.ts";
import type { CoreEvent, KubeObject, Namespace, Pod, Secret } from "./types.ts";
import { clone, deepEqual, isPlainObject, newUid, randomSuffix, rfc3339 } from "./util.ts";

/**
 * The API server's registry layer for one cluster: the operations behind
 * every verb (get, list, watch, create, update, patch, apply, delete), with
 * defaulting, validation, admission, optimistic concurrency, generation,
 * field ownership and garbage-collection finalizers. The HTTP front end and
 * the in-process controllers both go through it, so a controller's write
 * looks on the wire exactly like a client's.
 */

export const PATCH_TYPES = {
  json: "application/json-patch+json",
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
} as const;

export interface WriteOptions {
  /** Field manager; defaults to the client's user agent, as the API server derives it. */
  fieldManager?: string;
  dryRun?: boolean;
  /** "status" for the status subresource. */
  subresource?: string;
}

export interface PatchOptions extends WriteOptions {
  force?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: "Background" | "Foreground" | "Orphan";
  orphanDependents?: boolean;
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface DeleteResult {
  /** The object when deletion is pending (graceful, finalizers) or the kind returns it; else a Status. */
  body: KubeObject | StatusBody;
  /** True when the object is gone from the store. */
  deleted: boolean;
}

export interface WatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  sendInitialEvents?: boolean;
}

export interface WatchHandle {
  close(): void;
  /** The watch ended at once with a 410 ERROR event. */
  readonly expired: boolean;
}

export type AdmissionOp = "CREATE" | "UPDATE";
export type AdmissionPlugin = (
  op: AdmissionOp,
  rt: ResourceType,
  obj: KubeObject,
  old: KubeObject | undefined,
  api: ClusterApi,
) => void;

const DEFAULT_MANAGER = "unknown";

function nameOf(o: KubeObject): string {
  return o.metadata.name ?? "";
}

/** Fields a field selector may name, per kind. */
function selectableFields(rt: ResourceType, o: KubeObject): Record<string, string> | undefined {
  const f: Record<string, string> = {
    "metadata.name": o.metadata.name ?? "",
    "metadata.namespace": o.metadata.namespace ?? "",
  };
  const any = o as Record<string, unknown>;
  const str = (v: unknown) => (v === undefined || v === null ? "" : String(v));
  switch (rt.kind) {
    case "Pod": {
      const p = o as Pod;
      f["spec.nodeName"] = str(p.spec?.nodeName);
      f["spec.restartPolicy"] = str(p.spec?.restartPolicy);
      f["spec.schedulerName"] = str(p.spec?.schedulerName);
      f["spec.serviceAccountName"] = str(p.spec?.serviceAccountName);
      f["spec.hostNetwork"] = str(p.spec?.hostNetwork ?? false);
      f["status.phase"] = str(p.status?.phase);
      f["status.podIP"] = str(p.status?.podIP);
      f["status.nominatedNodeName"] = "";
      return f;
    }
    case "Event": {
      const e = o as CoreEvent;
      const io = e.involvedObject ?? (any.regarding as CoreEvent["involvedObject"]) ?? {};
      for (const k of [
        "kind",
        "namespace",
        "name",
        "uid",
        "apiVersion",
        "resourceVersion",
        "fieldPath",
      ] as const) {
        f[`involvedObject.${k}`] = str(io[k]);
        f[`regarding.${k}`] = str(io[k]);
      }
      f.reason = str(e.reason);
      f.reportingComponent = str(e.reportingComponent);
      f.reportingController = str(e.reportingComponent);
      f.source = str(e.source?.component);
      f.type = str(e.type);
      return f;
    }
    case "Secret":
      f.type = str((o as Secret).type);
      return f;
    case "Namespace":
      f["status.phase"] = str((o as Namespace).status?.phase);
      return f;
    case "ReplicaSet":
      f["status.replicas"] = str((any.status as Record<string, unknown> | undefined)?.replicas);
      return f;
    case "Node":
      f["spec.unschedulable"] = str(
        (any.spec as Record<string, unknown> | undefined)?.unschedulable ?? false,
      );
      return f;
    default:
      return f;
  }
}

/**
 * The field labels each kind's conversion accepts: the API server converts a
 * field selector's labels before it reads anything (kubernetes/kubernetes
 * staging/src/k8s.io/apiserver/pkg/endpoints/handlers/get.go ListResource:
 * `opts.FieldSelector.Transform(scope.Convertor.ConvertFieldLabel)`, a
 * failure being 400 BadRequest with the conversion's message), so an
 * unsupported label is refused whatever the collection holds.
 *
 * - Kinds with their own conversion function (pkg/apis/core/v1/conversion.go:
 *   Pod, Node, Event, Namespace, Secret) answer "field label not supported:
 *   LABEL"; so do custom resources, which accept metadata.name and, when
 *   namespaced, metadata.namespace (apiextensions-apiserver
 *   pkg/apiserver/conversion/converter.go crConverter.ConvertFieldLabel).
 * - Every other kind gets runtime.DefaultMetaV1FieldSelectorConversion
 *   (staging/src/k8s.io/apimachinery/pkg/runtime/conversion.go):
 *   `"LABEL" is not a known field selector: only "metadata.name", "metadata.namespace"`.
 *
 * ReplicaSet keeps the fields its registry makes selectable
 * (pkg/registry/apps/replicaset: status.replicas), and the events.k8s.io
 * view the emulator's union of both Event field sets.
 */
const FIELD_LABELS: Record<string, readonly string[]> = {
  Pod: [
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
  ],
  Node: ["metadata.name", "spec.unschedulable"],
  Event: [
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
    "metadata.namespace",
    "metadata.name",
  ],
  Namespace: ["status.phase", "metadata.name"],
  Secret: ["type", "metadata.namespace", "metadata.name"],
  ReplicaSet: ["metadata.name", "metadata.namespace", "status.replicas"],
};

/** ConvertFieldLabel for the kind: the label to filter on, or a 400 with the conversion's message. */
function convertFieldLabel(rt: ResourceType, label: string): string {
  // Old v1 clients' spec.host is spec.nodeName (core/v1 conversion.go).
  if (rt.kind === "Pod" && rt.group === "" && label === "spec.host") return "spec.nodeName";
  if (rt.kind === "Event" && rt.group !== "") {
    if (label in (selectableFields(rt, { metadata: {} }) ?? {})) return label;
    throw badRequest(`field label not supported: ${label}`);
  }
  const own = rt.builtin ? FIELD_LABELS[rt.kind] : undefined;
  if (own) {
    if (own.includes(label)) return label;
    throw badRequest(`field label not supported: ${label}`);
  }
  const meta = rt.namespaced ? ["metadata.name", "metadata.namespace"] : ["metadata.name"];
  if (!rt.builtin) {
    if (meta.includes(label)) return label;
    throw badRequest(`field label not supported: ${label}`);
  }
  if (label === "metadata.name" || label === "metadata.namespace") return label;
  throw badRequest(`"${label}" is not a known field selector: only "metadata.name", "metadata.namespace"`);
}

/** What the store keeps of an object for filtering watches it replays. */
export function selectableOf(storageKey: string, o: KubeObject): Selectable {
  const rt = RESOURCES.find((r) => r.storageKey === storageKey && r.view === undefined);
  return {
    namespace: o.metadata.namespace ?? "",
    labels: o.metadata.labels,
    fields: (rt ? selectableFields(rt, o) : undefined) ?? {},
  };
}

/** An object already serialised (a watch event from the history): written as is. */
export class RawJson {
  readonly raw: string;
  constructor(raw: string) {
    this.raw = raw;
  }
}

interface Filter {
  labels: LabelRequirement[];
  fields: FieldRequirement[];
}

function qosClass(p: Pod): string {
  let anyRequest = false;
  let guaranteed = true;
  for (const c of p.spec.containers ?? []) {
    const res = (c.resources ?? {}) as { requests?: Record<string, string>; limits?: Record<string, string> };
    const req = res.requests ?? {};
    const lim = res.limits ?? {};
    if (Object.keys(req).length > 0 || Object.keys(lim).length > 0) anyRequest = true;
    for (const r of ["cpu", "memory"]) {
      const l = lim[r];
      const q = req[r] ?? l;
      if (l === undefined || q !== l) guaranteed = false;
    }
  }
  if (!anyRequest) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

export class ClusterApi {
  readonly store: ObjectStore;
  readonly clock: EmulatorClock;
  private readonly admission: AdmissionPlugin[] = [];
  /** Whether the CSI CRDs are installed (the addon was enabled at some point). */
  csiCrdsInstalled = false;

  constructor(store: ObjectStore, clock: EmulatorClock) {
    this.store = store;
    this.clock = clock;
  }

  addAdmission(plugin: AdmissionPlugin): void {
    this.admission.push(plugin);
  }

  /** The resources discovery lists right now. */
  served(): ResourceType[] {
    return RESOURCES.filter((r) => r.servedWhen !== "csiAddon" || this.csiCrdsInstalled);
  }

  /** A served resource by group and plural, for the controllers. */
  type(group: string, resource: string): ResourceType {
    const r = RESOURCES.find((x) => x.group === group && x.resource === resource && x.view === undefined);
    if (!r) throw new Error(`unknown resource ${group}/${resource}`);
    return r;
  }

  private nowIso(): string {
    return rfc3339(this.clock.now());
  }

  private out(rt: ResourceType, o: KubeObject): KubeObject {
    return rt.view ? rt.view.out(o) : o;
  }

  // --- reads ---

  get(rt: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const o = this.store.get(rt.storageKey, rt.namespaced ? namespace : undefined, name);
    if (!o) throw notFound(rt, name);
    return this.out(rt, o);
  }

  tryGet(rt: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.store.get(rt.storageKey, rt.namespaced ? namespace : undefined, name);
    return o ? this.out(rt, o) : undefined;
  }

  /** Parses both selectors and converts the field labels as the kind's conversion does (400 when it refuses). */
  private filter(rt: ResourceType, labelSelector?: string, fieldSelector?: string): Filter {
    const fields = parseFieldSelector(fieldSelector).map((r) => ({
      ...r,
      field: convertFieldLabel(rt, r.field),
    }));
    return { labels: parseLabelSelector(labelSelector), fields };
  }

  private matches(rt: ResourceType, o: KubeObject, f: Filter): boolean {
    if (!matchesAll(o.metadata.labels, f.labels)) return false;
    if (f.fields.length === 0) return true;
    const fields = selectableFields(rt, o) ?? {};
    for (const r of f.fields) {
      if (!(r.field in fields)) throw badRequest(`field label not supported: ${r.field}`);
    }
    return matchesFields(fields, f.fields);
  }

  list(rt: ResourceType, namespace: string | undefined, options: ListOptions = {}): ListResult {
    const f = this.filter(rt, options.labelSelector, options.fieldSelector);
    const all = this.store
      .list(rt.storageKey, rt.namespaced ? namespace : undefined)
      .filter((o) => this.matches(rt, o, f))
      .sort((a, b) => {
        const ka = objectKey(a.metadata.namespace, nameOf(a));
        const kb = objectKey(b.metadata.namespace, nameOf(b));
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      });
    let start = 0;
    if (options.continue) {
      let token: { start?: string } = {};
      try {
        token = JSON.parse(Buffer.from(options.continue, "base64url").toString("utf8")) as { start?: string };
      } catch {
        throw badRequest("continue key is not valid: illegal base64 data");
      }
      const after = token.start ?? "";
      start = all.findIndex((o) => objectKey(o.metadata.namespace, nameOf(o)) > after);
      if (start < 0) start = all.length;
    }
    const rv = String(this.store.currentRevision);
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : undefined;
    const page = limit === undefined ? all.slice(start) : all.slice(start, start + limit);
    const result: ListResult = { items: page.map((o) => this.out(rt, o)), resourceVersion: rv };
    const remaining = all.length - start - page.length;
    if (limit !== undefined && remaining > 0) {
      const last = page[page.length - 1];
      if (last) {
        result.continue = Buffer.from(
          JSON.stringify({ rv, start: objectKey(last.metadata.namespace, nameOf(last)) }),
        ).toString("base64url");
        result.remainingItemCount = remaining;
      }
    }
    return result;
  }

  /** The JSON body of a list response. */
  listBody(rt: ResourceType, result: ListResult): Record<string, unknown> {
    const metadata: Record<string, unknown> = { resourceVersion: result.resourceVersion };
    if (result.continue) metadata.continue = result.continue;
    if (result.remainingItemCount !== undefined) metadata.remainingItemCount = result.remainingItemCount;
    // Built-in lists leave kind/apiVersion off their items; custom resource lists keep them.
    const items = rt.builtin
      ? result.items.map((o) => {
          const { kind: _k, apiVersion: _a, ...rest } = o;
          return rest;
        })
      : result.items;
    return { kind: listKindOf(rt), apiVersion: apiVersionOf(rt), metadata, items };
  }

  // --- watch ---

  watch(
    rt: ResourceType,
    namespace: string | undefined,
    options: WatchOptions,
    emit: (type: string, object: unknown) => void,
  ): WatchHandle {
    const f = this.filter(rt, options.labelSelector, options.fieldSelector);
    const ns = rt.namespaced ? namespace : undefined;
    const inScope = (o: KubeObject) => ns === undefined || o.metadata.namespace === ns;
    const test = (o: KubeObject | undefined) => o !== undefined && inScope(o) && this.matches(rt, o, f);
    const testSelectable = (x: Selectable | undefined) =>
      x !== undefined &&
      (ns === undefined || x.namespace === ns) &&
      matchesAll(x.labels, f.labels) &&
      matchesFields(x.fields, f.fields);
    // cache_watcher.go convertToWatchEvent: an object entering the selection is ADDED, one leaving it
    // DELETED with its previous content at the change's resourceVersion (`left`).
    const route = (
      type: StoreEvent["type"],
      now: boolean,
      before: boolean,
      payload: () => unknown,
      left: () => unknown,
    ) => {
      if (type === "ADDED") {
        if (now) emit("ADDED", payload());
      } else if (type === "MODIFIED") {
        if (now && before) emit("MODIFIED", payload());
        else if (now) emit("ADDED", payload());
        else if (before) emit("DELETED", left());
      } else if (now || before) {
        emit("DELETED", payload());
      }
    };
    const view = (json: string) =>
      rt.view ? rt.view.out(JSON.parse(json) as KubeObject) : new RawJson(json);
    // Live changes: the object is at hand; it is serialised once for all watchers.
    const send = (e: StoreEvent) =>
      route(
        e.type,
        test(e.object),
        e.prev !== undefined && test(e.prev),
        () => (rt.view ? rt.view.out(e.object) : new RawJson(eventJson(e))),
        () => view(previousJson(e)),
      );
    // Replayed changes come from the history, already serialised.
    const replay = (h: HistoryEntry) =>
      route(
        h.type,
        testSelectable(h.now),
        testSelectable(h.before),
        () => view(h.json),
        () => view(h.previousJson ?? h.json),
      );
    const rvText = options.resourceVersion;
    if (rvText === undefined || rvText === "" || rvText === "0") {
      for (const o of this.store.list(rt.storageKey, ns)) if (test(o)) emit("ADDED", this.out(rt, o));
      if (options.sendInitialEvents && options.allowWatchBookmarks) {
        emit("BOOKMARK", {
          kind: rt.kind,
          apiVersion: apiVersionOf(rt),
          metadata: {
            resourceVersion: String(this.store.currentRevision),
            annotations: { "k8s.io/initial-events-end": "true" },
          },
        });
      }
    } else {
      if (!/^\d+$/.test(rvText)) {
        throw badRequest(
          `resourceVersion: Invalid value: ${JSON.stringify(rvText)}: must be a non-negative integer`,
        );
      }
      const since = Number(rvText);
      const changes = this.store.changesSince(rt.storageKey, since);
      if (changes === undefined) {
        const err = resourceExpired(
          `too old resource version: ${since} (${this.store.compactedRevision(rt.storageKey)})`,
        );
        emit("ERROR", err.status);
        return { close: () => {}, expired: true };
      }
      for (const h of changes) replay(h);
    }
    const remove = this.store.addWatcher(rt.storageKey, { deliver: send });
    return { close: remove, expired: false };
  }

  // --- writes ---

  private checkNamespace(rt: ResourceType, namespace: string | undefined, name: string): void {
    if (!rt.namespaced) return;
    const ns = namespace ?? "";
    const nsObj = this.store.get("core/namespaces", undefined, ns) as Namespace | undefined;
    if (!nsObj) throw notFound(this.type("", "namespaces"), ns);
    if (nsObj.metadata.deletionTimestamp !== undefined && rt.kind !== "Event") {
      throw forbidden(
        rt,
        name,
        `unable to create new content in namespace ${ns} because it is being terminated`,
      );
    }
  }

  private validate(rt: ResourceType, obj: KubeObject, old: KubeObject | undefined): void {
    const errs: FieldError[] = [];
    rt.validate?.(obj, old, errs);
    if (errs.length > 0) throw invalid(rt.kind, rt.group, nameOf(obj), errs);
  }

  private prepareSecret(obj: KubeObject): void {
    const s = obj as Secret;
    if (s.stringData) {
      s.data = { ...(s.data ?? {}) };
      for (const [k, v] of Object.entries(s.stringData))
        s.data[k] = Buffer.from(v, "utf8").toString("base64");
      delete s.stringData;
    }
    for (const [k, v] of Object.entries(s.data ?? {})) {
      if (typeof v !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) {
        throw badRequest(
          `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0 (data[${k}])`,
        );
      }
    }
  }

  private normalizeBody(rt: ResourceType, body: unknown): KubeObject {
    if (!isPlainObject(body)) throw badRequest("the body of the request must be a JSON object");
    let obj = clone(body) as KubeObject;
    if (!isPlainObject(obj.metadata)) obj.metadata = {};
    if (rt.view) obj = rt.view.in(obj);
    const expected = rt.view ? "v1" : apiVersionOf(rt);
    if (obj.apiVersion !== undefined && obj.apiVersion !== expected && !rt.view) {
      throw badRequest(
        `the API version in the data (${obj.apiVersion}) does not match the expected API version (${expected})`,
      );
    }
    if (obj.kind !== undefined && obj.kind !== rt.kind) {
      throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${rt.kind})`);
    }
    obj.apiVersion = expected;
    obj.kind = rt.kind;
    return obj;
  }

  create(
    rt: ResourceType,
    namespace: string | undefined,
    body: unknown,
    options: WriteOptions = {},
  ): KubeObject {
    const obj = this.normalizeBody(rt, body);
    const meta = obj.metadata;
    if (rt.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== "" && meta.namespace !== namespace) {
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      }
      meta.namespace = namespace ?? "default";
    } else {
      delete meta.namespace;
    }
    const given = meta.name ?? "";
    if (given === "" && !meta.generateName) this.validate(rt, obj, undefined);
    if (given !== "" && this.store.get(rt.storageKey, meta.namespace, given)) throw alreadyExists(rt, given);
    this.checkNamespace(rt, meta.namespace, given || (meta.generateName ?? ""));
    this.prepareForCreate(rt, obj);
    rt.defaults?.(obj);
    // Admission sees the object before a generated name is filled in, as in the API server.
    for (const a of this.admission) a("CREATE", rt, obj, undefined, this);
    if (!meta.name) {
      do meta.name = `${meta.generateName ?? ""}${randomSuffix(5)}`;
      while (this.store.get(rt.storageKey, meta.namespace, meta.name));
    }
    this.validate(rt, obj, undefined);
    meta.uid = newUid();
    meta.creationTimestamp = this.nowIso();
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.resourceVersion;
    if (rt.generation !== "none") meta.generation = 1;
    else delete meta.generation;
    delete meta.managedFields;
    recordUpdate(undefined, obj, {
      manager: options.fieldManager ?? DEFAULT_MANAGER,
      apiVersion: apiVersionOf(rt),
      subresource: "",
      statusSubresource: rt.statusSubresource,
      now: this.nowIso(),
    });
    if (options.dryRun) return this.out(rt, obj);
    const rv = this.store.nextRevision();
    meta.resourceVersion = String(rv);
    this.store.commit(rt.storageKey, "ADDED", obj, undefined, rv);
    return this.out(rt, obj);
  }

  private prepareForCreate(rt: ResourceType, obj: KubeObject): void {
    switch (rt.kind) {
      case "Secret":
        this.prepareSecret(obj);
        break;
      case "Pod": {
        const pod = obj as Pod;
        if (isPlainObject(pod.spec)) pod.status = { phase: "Pending", qosClass: qosClass(pod) };
        break;
      }
      case "Deployment":
        obj.status = {};
        break;
      case "ReplicaSet":
        obj.status = { replicas: 0 };
        break;
      case "Namespace":
        obj.status = { phase: "Active" };
        break;
      default:
        break;
    }
  }

  update(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    options: WriteOptions = {},
  ): KubeObject {
    const ns = rt.namespaced ? namespace : undefined;
    const old = this.store.get(rt.storageKey, ns, name);
    if (!old) throw notFound(rt, name);
    const given = this.normalizeBody(rt, body);
    if (given.metadata.name !== undefined && given.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${given.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    const givenRv = given.metadata.resourceVersion;
    if (givenRv !== undefined && givenRv !== "" && givenRv !== old.metadata.resourceVersion) {
      throw conflict(rt, name, STALE_OBJECT);
    }
    const subresource = options.subresource ?? "";
    let next: KubeObject;
    if (subresource === "status") {
      next = clone(old);
      next.status = clone(given.status);
    } else {
      next = given;
      if (rt.statusSubresource) {
        if (old.status === undefined) delete next.status;
        else next.status = clone(old.status);
      }
      if (rt.kind === "Secret") this.prepareSecret(next);
    }
    return this.persistUpdate(rt, old, next, options, false);
  }

  private persistUpdate(
    rt: ResourceType,
    old: KubeObject,
    next: KubeObject,
    options: WriteOptions,
    managedFieldsDone: boolean,
  ): KubeObject {
    const subresource = options.subresource ?? "";
    const meta = next.metadata;
    // Identity and server-owned metadata stay as stored.
    meta.name = old.metadata.name;
    if (rt.namespaced) meta.namespace = old.metadata.namespace;
    else delete meta.namespace;
    meta.uid = old.metadata.uid;
    meta.creationTimestamp = old.metadata.creationTimestamp;
    if (old.metadata.deletionTimestamp !== undefined) {
      meta.deletionTimestamp = old.metadata.deletionTimestamp;
      if (old.metadata.deletionGracePeriodSeconds !== undefined) {
        meta.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
      }
    } else {
      delete meta.deletionTimestamp;
      delete meta.deletionGracePeriodSeconds;
    }
    if (old.metadata.generation !== undefined) meta.generation = old.metadata.generation;
    else delete meta.generation;
    rt.defaults?.(next);
    if (subresource === "") {
      for (const a of this.admission) a("UPDATE", rt, next, old, this);
    }
    this.validate(rt, next, old);
    if (rt.generation === "spec" && !deepEqual(old.spec, next.spec)) {
      meta.generation = (old.metadata.generation ?? 0) + 1;
    } else if (rt.generation === "non-metadata") {
      const strip = (o: KubeObject) => {
        const { metadata: _m, ...rest } = o;
        return rest;
      };
      if (!deepEqual(strip(old), strip(next))) meta.generation = (old.metadata.generation ?? 0) + 1;
    }
    if (!managedFieldsDone) {
      meta.managedFields = old.metadata.managedFields ?? [];
      recordUpdate(old, next, {
        manager: options.fieldManager ?? DEFAULT_MANAGER,
        apiVersion: apiVersionOf(rt),
        subresource,
        statusSubresource: rt.statusSubresource,
        now: this.nowIso(),
      });
    }
    meta.resourceVersion = old.metadata.resourceVersion;
    if (deepEqual(old, next)) return this.out(rt, old);
    if (options.dryRun) return this.out(rt, next);
    const rv = this.store.nextRevision();
    meta.resourceVersion = String(rv);
    // An object marked for deletion goes once its last finalizer is removed (pods leave through the kubelet).
    if (
      meta.deletionTimestamp !== undefined &&
      (meta.finalizers ?? []).length === 0 &&
      (!rt.graceful || meta.deletionGracePeriodSeconds === 0)
    ) {
      this.store.commit(rt.storageKey, "DELETED", next, old, rv);
      return this.out(rt, next);
    }
    this.store.commit(rt.storageKey, "MODIFIED", next, old, rv);
    return this.out(rt, next);
  }

  patch(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    contentType: string,
    rawBody: string,
    options: PatchOptions = {},
  ): KubeObject {
    const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
    const accepted = rt.builtin
      ? [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.strategic, PATCH_TYPES.apply]
      : [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.apply];
    if (!(accepted as string[]).includes(type)) throw unsupportedMediaType(accepted);
    if (type === PATCH_TYPES.apply) return this.apply(rt, namespace, name, rawBody, options);
    if (options.force !== undefined) {
      throw invalid("PatchOptions", "meta.k8s.io", "", [
        { type: "Forbidden", field: "force", detail: "may not be specified for non-apply patch" },
      ]);
    }
    const ns = rt.namespaced ? namespace : undefined;
    const stored = this.store.get(rt.storageKey, ns, name);
    if (!stored) throw notFound(rt, name);
    let patchBody: unknown;
    try {
      patchBody = JSON.parse(rawBody);
    } catch (e) {
      throw badRequest(`error decoding patch: ${(e as Error).message}`);
    }
    const base = this.out(rt, stored);
    const patched =
      type === PATCH_TYPES.json
        ? jsonPatch(base, patchBody)
        : type === PATCH_TYPES.merge
          ? mergePatch(base, patchBody)
          : strategicMergePatch(base, patchBody);
    if (!isPlainObject(patched)) throw badRequest("the patch did not produce an object");
    const patchedObj = patched as KubeObject;
    if (!isPlainObject(patchedObj.metadata)) patchedObj.metadata = {};
    // The patched object keeps the stored resourceVersion unless the patch names one: then it is a precondition.
    if (options.subresource === "status") {
      const next = clone(stored);
      next.status = clone(patchedObj.status);
      const givenRv = patchedObj.metadata.resourceVersion;
      if (givenRv !== undefined && givenRv !== stored.metadata.resourceVersion)
        throw conflict(rt, name, STALE_OBJECT);
      return this.persistUpdate(rt, stored, next, options, false);
    }
    return this.update(rt, namespace, name, patchedObj, options);
  }

  /** A JSON, merge or strategic merge patch applied to a plain document (the scale subresource). */
  patchPlain(doc: unknown, contentType: string, rawBody: string): unknown {
    const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch (e) {
      throw badRequest(`error decoding patch: ${(e as Error).message}`);
    }
    if (type === PATCH_TYPES.json) return jsonPatch(doc, body);
    if (type === PATCH_TYPES.merge) return mergePatch(doc, body);
    if (type === PATCH_TYPES.strategic) return strategicMergePatch(doc, body);
    throw unsupportedMediaType([PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.strategic]);
  }

  private apply(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    rawBody: string,
    options: PatchOptions,
  ): KubeObject {
    const manager = options.fieldManager;
    if (manager === undefined || manager === "") {
      throw invalid("PatchOptions", "meta.k8s.io", "", [
        { type: "Required", field: "fieldManager", detail: "is required for apply patch" },
      ]);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(rawBody);
    } catch (e) {
      throw badRequest(`error decoding YAML: ${(e as Error).message}`);
    }
    if (!isPlainObject(parsed))
      throw badRequest("invalid object: the applied configuration must be an object");
    let config = parsed as KubeObject;
    if (!isPlainObject(config.metadata)) config.metadata = {};
    if (rt.view) config = rt.view.in(config);
    const expected = rt.view ? "v1" : apiVersionOf(rt);
    if (config.apiVersion !== expected && !rt.view) {
      throw badRequest(
        `the API version in the data (${String(config.apiVersion ?? "")}) does not match the expected API version (${expected})`,
      );
    }
    if (config.kind !== rt.kind) {
      throw badRequest(
        `the kind in the data (${String(config.kind ?? "")}) does not match the expected kind (${rt.kind})`,
      );
    }
    if (config.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${config.metadata.name ?? ""}) does not match the name on the URL (${name})`,
      );
    }
    const ns = rt.namespaced ? (namespace ?? "default") : undefined;
    if (rt.namespaced && config.metadata.namespace !== undefined && config.metadata.namespace !== ns) {
      throw badRequest(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    const subresource = options.subresource ?? "";
    const ctx = {
      manager,
      apiVersion: apiVersionOf(rt),
      subresource,
      statusSubresource: rt.statusSubresource,
      now: this.nowIso(),
    };
    const old = this.store.get(rt.storageKey, ns, name);
    if (!old) {
      if (subresource !== "") throw notFound(rt, name);
      const base: KubeObject = { apiVersion: expected, kind: rt.kind, metadata: { name } };
      if (ns !== undefined) base.metadata.namespace = ns;
      const merged = serverSideApply({ live: undefined, config, base, force: options.force === true, ctx });
      return this.createApplied(rt, ns, merged, options);
    }
    const merged = serverSideApply({ live: old, config, base: old, force: options.force === true, ctx });
    merged.metadata.resourceVersion = old.metadata.resourceVersion;
    if (rt.kind === "Secret") this.prepareSecret(merged);
    if (rt.statusSubresource && subresource === "") {
      if (old.status === undefined) delete merged.status;
      else merged.status = clone(old.status);
    }
    return this.persistUpdate(rt, old, merged, options, true);
  }

  private createApplied(
    rt: ResourceType,
    ns: string | undefined,
    obj: KubeObject,
    options: WriteOptions,
  ): KubeObject {
    const name = nameOf(obj);
    this.checkNamespace(rt, ns, name);
    const managed = obj.metadata.managedFields;
    this.prepareForCreate(rt, obj);
    rt.defaults?.(obj);
    for (const a of this.admission) a("CREATE", rt, obj, undefined, this);
    this.validate(rt, obj, undefined);
    const meta = obj.metadata;
    meta.uid = newUid();
    meta.creationTimestamp = this.nowIso();
    if (rt.generation !== "none") meta.generation = 1;
    if (managed) meta.managedFields = managed;
    if (options.dryRun) return this.out(rt, obj);
    const rv = this.store.nextRevision();
    meta.resourceVersion = String(rv);
    this.store.commit(rt.storageKey, "ADDED", obj, undefined, rv);
    return this.out(rt, obj);
  }

  delete(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    options: DeleteOptions = {},
  ): DeleteResult {
    const ns = rt.namespaced ? namespace : undefined;
    const old = this.store.get(rt.storageKey, ns, name);
    if (!old) throw notFound(rt, name);
    const pre = options.preconditions;
    if (pre?.uid !== undefined && pre.uid !== old.metadata.uid) {
      throw conflict(
        rt,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid ?? ""}`,
      );
    }
    if (pre?.resourceVersion !== undefined && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(
        rt,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion ?? ""}`,
      );
    }
    const now = this.clock.now();
    if (rt.kind === "Namespace") {
      if (old.metadata.deletionTimestamp !== undefined) return { body: this.out(rt, old), deleted: false };
      const next = clone(old) as Namespace;
      next.metadata.deletionTimestamp = rfc3339(now);
      next.metadata.deletionGracePeriodSeconds = 0;
      next.status = { ...(next.status ?? {}), phase: "Terminating" };
      return { body: this.commitUpdate(rt, old, next, options.dryRun), deleted: false };
    }
    const policy =
      options.propagationPolicy ??
      (options.orphanDependents === true
        ? "Orphan"
        : options.orphanDependents === false
          ? "Background"
          : "Background");
    const policyFinalizer =
      policy === "Orphan" ? "orphan" : policy === "Foreground" ? "foregroundDeletion" : undefined;
    const finalizers = [...(old.metadata.finalizers ?? [])];
    if (policyFinalizer && !finalizers.includes(policyFinalizer)) finalizers.push(policyFinalizer);

    if (old.metadata.deletionTimestamp !== undefined) {
      // Already terminating: a shorter grace period for a pod moves the deadline in.
      if (rt.graceful && options.gracePeriodSeconds !== undefined) {
        const grace = options.gracePeriodSeconds;
        if (grace === 0 && finalizers.length === 0) return this.removeNow(rt, old, options.dryRun);
        // With finalizers left, a zero grace period is recorded; the last finalizer's removal then deletes it.
        if (grace < (old.metadata.deletionGracePeriodSeconds ?? Number.POSITIVE_INFINITY)) {
          const next = clone(old);
          next.metadata.deletionGracePeriodSeconds = grace;
          next.metadata.deletionTimestamp = rfc3339(now + grace * 1000);
          return { body: this.commitUpdate(rt, old, next, options.dryRun), deleted: false };
        }
      }
      return { body: this.out(rt, old), deleted: false };
    }

    if (rt.graceful) {
      const pod = old as Pod;
      const grace = options.gracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
      const terminal = pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
      if (grace > 0 && pod.spec?.nodeName && !terminal) {
        const next = clone(old);
        next.metadata.deletionTimestamp = rfc3339(now + grace * 1000);
        next.metadata.deletionGracePeriodSeconds = grace;
        if (finalizers.length > 0) next.metadata.finalizers = finalizers;
        return { body: this.commitUpdate(rt, old, next, options.dryRun), deleted: false };
      }
    }
    if (finalizers.length > 0) {
      const next = clone(old);
      next.metadata.deletionTimestamp = rfc3339(now);
      next.metadata.deletionGracePeriodSeconds = 0;
      next.metadata.finalizers = finalizers;
      return { body: this.commitUpdate(rt, old, next, options.dryRun), deleted: false };
    }
    return this.removeNow(rt, old, options.dryRun);
  }

  private commitUpdate(rt: ResourceType, old: KubeObject, next: KubeObject, dryRun?: boolean): KubeObject {
    if (dryRun) return this.out(rt, next);
    const rv = this.store.nextRevision();
    next.metadata.resourceVersion = String(rv);
    this.store.commit(rt.storageKey, "MODIFIED", next, old, rv);
    return this.out(rt, next);
  }

  private removeNow(rt: ResourceType, old: KubeObject, dryRun?: boolean): DeleteResult {
    const gone = clone(old);
    if (!dryRun) {
      const rv = this.store.nextRevision();
      gone.metadata.resourceVersion = String(rv);
      this.store.commit(rt.storageKey, "DELETED", gone, old, rv);
    }
    if (rt.graceful) return { body: this.out(rt, gone), deleted: true };
    const status: StatusBody = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: { name: nameOf(old), kind: rt.resource, uid: old.metadata.uid ?? "" },
      code: 200,
    };
    if (rt.group !== "" && status.details) status.details.group = rt.group;
    return { body: status, deleted: true };
  }

  deleteCollection(
    rt: ResourceType,
    namespace: string | undefined,
    list: ListOptions,
    options: DeleteOptions = {},
  ): KubeObject[] {
    const { items } = this.list(rt, namespace, list);
    const out: KubeObject[] = [];
    for (const o of items) {
      try {
        this.delete(rt, o.metadata.namespace, nameOf(o), options);
        out.push(o);
      } catch (e) {
        if (!(e instanceof ApiError) || e.code !== 404) throw e;
      }
    }
    return out;
  }

  // --- helpers for the in-process controllers ---

  /** The namespace controller's last step: the namespace is empty, its finalizer done, so it goes. */
  removeNamespace(name: string): void {
    const rt = this.type("", "namespaces");
    const old = this.store.get(rt.storageKey, undefined, name);
    if (!old) return;
    const gone = clone(old) as Namespace;
    gone.spec = { ...(gone.spec ?? {}), finalizers: [] };
    const rv = this.store.nextRevision();
    gone.metadata.resourceVersion = String(rv);
    this.store.commit(rt.storageKey, "DELETED", gone, old, rv);
  }

  /**
   * Reads the current object, lets `fn` change a copy, and writes it back as
   * an Update by `fieldManager`. Returns undefined when the object is gone or
   * `fn` returns false (nothing to do).
   */
  mutate(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    fn: (o: KubeObject) => boolean | undefined,
    options: WriteOptions,
  ): KubeObject | undefined {
    const current = this.store.get(rt.storageKey, rt.namespaced ? namespace : undefined, name);
    if (!current) return undefined;
    const copy = clone(current);
    if (fn(copy) === false) return undefined;
    const ns = rt.namespaced ? namespace : undefined;
    if (options.subresource === "status") {
      return this.persistUpdate(rt, current, copy, options, false);
    }
    return this.update(rt, ns, name, copy, options);
  }
}
