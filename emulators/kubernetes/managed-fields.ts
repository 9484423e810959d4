import { applyConflict } from "./errors.ts";
import {
  diffFields,
  type FieldSet,
  type FieldsOfOptions,
  fieldsOf,
  fromFieldsV1,
  pathString,
  removeAt,
  toFieldsV1,
  valueAt,
} from "./fieldpath.ts";
import { applyMerge } from "./patch.ts";
import type { KubeObject, ManagedFieldsEntry } from "./types.ts";
import { clone, deepEqual, isPlainObject } from "./util.ts";

/**
 * Field ownership (metadata.managedFields) and server-side apply, after
 * structured-merge-diff: an Update takes the fields it changed away from
 * everyone else; an Apply owns exactly what its configuration names, drops
 * what it named before and no longer does (unless someone else owns it),
 * and conflicts with other owners over different values unless forced.
 */

interface Entry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  subresource: string;
  time: string;
  set: FieldSet;
}

function readEntries(obj: KubeObject | undefined): Entry[] {
  const out: Entry[] = [];
  for (const m of obj?.metadata.managedFields ?? []) {
    out.push({
      manager: m.manager,
      operation: m.operation,
      apiVersion: m.apiVersion,
      subresource: m.subresource ?? "",
      time: m.time,
      set: fromFieldsV1(m.fieldsV1),
    });
  }
  return out;
}

function writeEntries(entries: Entry[]): ManagedFieldsEntry[] {
  const out: ManagedFieldsEntry[] = [];
  for (const e of entries) {
    if (e.set.size === 0) continue;
    const m: ManagedFieldsEntry = {
      manager: e.manager,
      operation: e.operation,
      apiVersion: e.apiVersion,
      time: e.time,
      fieldsType: "FieldsV1",
      fieldsV1: toFieldsV1(e.set),
    };
    if (e.subresource !== "") m.subresource = e.subresource;
    out.push(m);
  }
  return out;
}

function removePaths(set: FieldSet, paths: Iterable<string>): void {
  for (const p of paths) set.delete(p);
}

function statusMode(subresource: string, statusSubresource: boolean): FieldsOfOptions {
  if (!statusSubresource) return { status: "include" };
  return { status: subresource === "status" ? "only" : "exclude" };
}

export interface OwnershipContext {
  manager: string;
  apiVersion: string;
  subresource: string;
  statusSubresource: boolean;
  now: string;
}

/** Records an Update by `ctx.manager` that turned `old` into `next` (sets next.metadata.managedFields). */
export function recordUpdate(old: KubeObject | undefined, next: KubeObject, ctx: OwnershipContext): void {
  const mode = statusMode(ctx.subresource, ctx.statusSubresource);
  const prevSet = old ? fieldsOf(old, mode) : new Map();
  const nextSet = fieldsOf(next, mode);
  const { changed, removed } = diffFields(prevSet, nextSet);
  const entries = readEntries(old);
  if (changed.size === 0 && removed.size === 0) {
    next.metadata.managedFields = old?.metadata.managedFields ?? [];
    if (next.metadata.managedFields.length === 0) delete next.metadata.managedFields;
    return;
  }
  for (const e of entries) {
    removePaths(e.set, changed.keys());
    removePaths(e.set, removed.keys());
  }
  let mine = entries.find(
    (e) => e.manager === ctx.manager && e.operation === "Update" && e.subresource === ctx.subresource,
  );
  if (!mine) {
    mine = {
      manager: ctx.manager,
      operation: "Update",
      apiVersion: ctx.apiVersion,
      subresource: ctx.subresource,
      time: ctx.now,
      set: new Map(),
    };
    entries.push(mine);
  }
  for (const [p, e] of changed) mine.set.set(p, e);
  mine.time = ctx.now;
  mine.apiVersion = ctx.apiVersion;
  const written = writeEntries(entries);
  if (written.length > 0) next.metadata.managedFields = written;
  else delete next.metadata.managedFields;
}

/**
 * apimachinery's printManager (staging/src/k8s.io/apimachinery/pkg/util/
 * managedfields/internal/conflict.go) prints the manager identifier, which
 * BuildManagerIdentifier (internal/managedfields.go) builds without the time
 * ("Never include the time in the manager identifier"): an Update manager is
 * `"editor" using v1`, never `… at <time>`.
 */
function describeManager(e: Entry): string {
  let s = JSON.stringify(e.manager);
  if (e.subresource !== "") s += ` with subresource ${JSON.stringify(e.subresource)}`;
  if (e.operation === "Update") s += ` using ${e.apiVersion}`;
  return s;
}

/** The apply conflict message of apimachinery's fieldmanager. */
function conflictError(conflicts: { entry: Entry; path: string }[]) {
  const causes = conflicts.map((c) => ({
    reason: "FieldManagerConflict",
    message: `conflict with ${describeManager(c.entry)}`,
    field: c.path,
  }));
  if (conflicts.length === 1) {
    const c = conflicts[0];
    if (c)
      return applyConflict(
        `Apply failed with 1 conflict: conflict with ${describeManager(c.entry)}: ${c.path}`,
        causes,
      );
  }
  const byManager = new Map<string, { entry: Entry; paths: string[] }>();
  for (const c of conflicts) {
    const key = describeManager(c.entry);
    const g = byManager.get(key) ?? { entry: c.entry, paths: [] };
    g.paths.push(c.path);
    byManager.set(key, g);
  }
  const lines: string[] = [];
  for (const key of [...byManager.keys()].sort()) {
    lines.push(`conflicts with ${key}:`);
    for (const p of byManager.get(key)?.paths ?? []) lines.push(`- ${p}`);
  }
  return applyConflict(`Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`, causes);
}

export interface ApplyInput {
  /** The stored object, or undefined when the apply creates it. */
  live: KubeObject | undefined;
  /** The applied configuration as sent: the applier owns exactly the fields it names. */
  config: KubeObject;
  /** A fresh object to start from when creating. */
  base: KubeObject;
  force: boolean;
  ctx: OwnershipContext;
}

/**
 * Server-side apply. Returns the merged object with its managedFields, or
 * throws the 409 apply conflict.
 */
export function serverSideApply(input: ApplyInput): KubeObject {
  const { live, config, force, ctx } = input;
  const mode = statusMode(ctx.subresource, ctx.statusSubresource);
  const configSet = fieldsOf(config, mode);
  const entries = readEntries(live);
  let mine = entries.find(
    (e) => e.manager === ctx.manager && e.operation === "Apply" && e.subresource === ctx.subresource,
  );
  const previous: FieldSet = mine ? new Map(mine.set) : new Map();

  const target = clone(live ?? input.base);
  const conflicts: { entry: Entry; path: string }[] = [];
  if (live) {
    for (const [p, e] of configSet) {
      if (!e.leaf) continue;
      const liveValue = valueAt(live, e.segments);
      if (liveValue === undefined || deepEqual(liveValue, e.value)) continue;
      for (const other of entries) {
        if (other === mine) continue;
        if (other.set.has(p)) conflicts.push({ entry: other, path: p });
      }
    }
  }
  if (conflicts.length > 0 && !force) throw conflictError(conflicts);

  // Fields this manager applied before and no longer names are removed, unless someone else owns them.
  const ownedByOthers = (p: string) => entries.some((e) => e !== mine && e.set.has(p));
  const ownedBelowByOthers = (p: string) =>
    entries.some((e) => e !== mine && [...e.set.keys()].some((q) => q !== p && q.startsWith(p)));
  const dropped = [...previous.values()]
    .filter((e) => !configSet.has(pathString(e.segments)))
    .sort((a, b) => b.segments.length - a.segments.length);
  for (const e of dropped) {
    const p = pathString(e.segments);
    if (ownedByOthers(p) || ownedBelowByOthers(p)) continue;
    removeAt(target, e.segments);
  }

  const applied = clone(config) as Record<string, unknown>;
  delete applied.status;
  if (mode.status === "only") {
    const status = (config as Record<string, unknown>).status;
    if (isPlainObject(status)) applyMerge(target as Record<string, unknown>, { status });
  } else {
    const meta = isPlainObject(applied.metadata) ? applied.metadata : {};
    // Identity and bookkeeping are not the applier's to set.
    for (const k of [
      "uid",
      "resourceVersion",
      "generation",
      "creationTimestamp",
      "managedFields",
      "deletionTimestamp",
    ]) {
      delete meta[k];
    }
    applyMerge(target as Record<string, unknown>, applied);
  }

  // Ownership: the applier owns what it named; forced conflicts are taken from their owners.
  if (force) for (const c of conflicts) c.entry.set.delete(c.path);
  if (!mine) {
    mine = {
      manager: ctx.manager,
      operation: "Apply",
      apiVersion: ctx.apiVersion,
      subresource: ctx.subresource,
      time: ctx.now,
      set: new Map(),
    };
    entries.push(mine);
  }
  mine.set = new Map(configSet);
  mine.apiVersion = ctx.apiVersion;

  // Whatever vanished from the object is nobody's any more.
  const after = fieldsOf(target, mode);
  for (const e of entries) for (const p of [...e.set.keys()]) if (!after.has(p)) e.set.delete(p);

  const changed =
    live === undefined ||
    !deepEqual(stripBookkeeping(live), stripBookkeeping(target)) ||
    !deepEqual([...previous.keys()].sort(), [...configSet.keys()].sort());
  if (changed) mine.time = ctx.now;
  target.metadata.managedFields = writeEntries(entries);
  return target;
}

function stripBookkeeping(o: KubeObject): KubeObject {
  const c = { ...o, metadata: { ...o.metadata } };
  delete c.metadata.managedFields;
  delete c.metadata.resourceVersion;
  return c;
}
