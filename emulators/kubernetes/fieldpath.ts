import { isAtomicObject, isUntrackedField, listKind } from "./schema.ts";
import type { JsonObject, JsonPrimitive } from "./types.ts";
import { canonicalJson, deepEqual, isPlainObject } from "./util.ts";

/**
 * Field paths and field sets, as structured-merge-diff has them: the unit of
 * ownership in managedFields. A set maps each path's string form
 * (`.spec.template.spec.containers[name="podinfo"].image`, the form conflict
 * messages print) to its segments and, for leaves, the value found there.
 */

export type Segment =
  | { f: string }
  | { k: Record<string, JsonPrimitive> }
  | { v: JsonPrimitive }
  | { i: number };

export interface PathEntry {
  segments: Segment[];
  /** The value at a leaf; undefined for an owned list element (the "." of fieldsV1). */
  value?: unknown;
  leaf: boolean;
}

export type FieldSet = Map<string, PathEntry>;

export function segmentString(s: Segment): string {
  if ("f" in s) return `.${s.f}`;
  if ("k" in s) {
    const parts = Object.entries(s.k).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    return `[${parts.join(",")}]`;
  }
  if ("v" in s) return `[=${JSON.stringify(s.v)}]`;
  return `[${s.i}]`;
}

export function pathString(segs: readonly Segment[]): string {
  return segs.map(segmentString).join("");
}

function fieldNames(segs: readonly Segment[]): string[] {
  const out: string[] = [];
  for (const s of segs) if ("f" in s) out.push(s.f);
  return out;
}

function keyOf(item: unknown, keys: string[]): Record<string, JsonPrimitive> | undefined {
  if (!isPlainObject(item)) return undefined;
  const k: Record<string, JsonPrimitive> = {};
  for (const key of keys) {
    let v = item[key];
    // protocol defaults to TCP; an applied port without it is the same element.
    if (v === undefined && key === "protocol") v = "TCP";
    if (v === undefined) return undefined;
    k[key] = v as JsonPrimitive;
  }
  return k;
}

export interface FieldsOfOptions {
  /** Leave `.status` out (updates of the main resource) or keep only it (status subresource). */
  status?: "exclude" | "only" | "include";
}

/** Every owned path of `obj`. */
export function fieldsOf(obj: unknown, options: FieldsOfOptions = {}): FieldSet {
  const set: FieldSet = new Map();
  const statusMode = options.status ?? "include";
  const walk = (value: unknown, segs: Segment[]) => {
    const names = fieldNames(segs);
    if (isPlainObject(value) && !isAtomicObject(names)) {
      const keys = Object.keys(value).filter((k) => value[k] !== undefined);
      if (keys.length === 0 && segs.length > 0) {
        add(segs, value, true);
        return;
      }
      for (const k of keys) {
        const child = [...segs, { f: k }];
        const childNames = [...names, k];
        if (segs.length === 0 && k === "status" && statusMode === "exclude") continue;
        if (segs.length === 0 && k !== "status" && statusMode === "only") continue;
        if (isUntrackedField(childNames)) continue;
        walk(value[k], child);
      }
      return;
    }
    if (Array.isArray(value) && value.length > 0) {
      const kind = listKind(names, true);
      if (kind.type === "map") {
        const allKeyed = value.every((item) => keyOf(item, kind.keys) !== undefined);
        if (allKeyed) {
          for (const item of value) {
            const k = keyOf(item, kind.keys);
            if (!k) continue;
            const el = [...segs, { k }];
            add(el, undefined, false);
            walk(item, el);
          }
          return;
        }
      } else if (kind.type === "set") {
        for (const item of value) add([...segs, { v: item as JsonPrimitive }], item, true);
        return;
      }
    }
    add(segs, value, true);
  };
  const add = (segs: Segment[], value: unknown, leaf: boolean) => {
    if (segs.length === 0) return;
    const entry: PathEntry = { segments: segs, leaf };
    if (leaf) entry.value = value;
    set.set(pathString(segs), entry);
  };
  walk(obj, []);
  return set;
}

/** Paths of `next` that are new or hold another value than in `prev`, and paths of `prev` gone from `next`. */
export function diffFields(prev: FieldSet, next: FieldSet): { changed: FieldSet; removed: FieldSet } {
  const changed: FieldSet = new Map();
  const removed: FieldSet = new Map();
  for (const [p, e] of next) {
    const before = prev.get(p);
    if (!before || (e.leaf && !deepEqual(before.value, e.value)) || before.leaf !== e.leaf) changed.set(p, e);
  }
  for (const [p, e] of prev) if (!next.has(p)) removed.set(p, e);
  return { changed, removed };
}

// --- fieldsV1 encoding ---

function segmentKey(s: Segment): string {
  if ("f" in s) return `f:${s.f}`;
  if ("k" in s) return `k:${canonicalJson(s.k)}`;
  if ("v" in s) return `v:${JSON.stringify(s.v)}`;
  return `i:${s.i}`;
}

/** The nested `fieldsV1` form stored in managedFields. */
export function toFieldsV1(set: FieldSet): JsonObject {
  const root: JsonObject = {};
  for (const e of set.values()) {
    let node = root;
    for (const s of e.segments) {
      const key = segmentKey(s);
      let child = node[key] as JsonObject | undefined;
      if (!child) {
        child = {};
        node[key] = child;
      }
      node = child;
    }
    if (!e.leaf) node["."] = {};
  }
  // A member that also has children is marked with "." (already done for elements); leaves with children too.
  for (const e of set.values()) {
    if (!e.leaf) continue;
    let node: JsonObject | undefined = root;
    for (const s of e.segments) node = node?.[segmentKey(s)] as JsonObject | undefined;
    if (node && Object.keys(node).length > 0 && !("." in node)) node["."] = {};
  }
  return root;
}

function parseSegmentKey(key: string): Segment | undefined {
  const tag = key.slice(0, 2);
  const rest = key.slice(2);
  try {
    if (tag === "f:") return { f: rest };
    if (tag === "k:") return { k: JSON.parse(rest) as Record<string, JsonPrimitive> };
    if (tag === "v:") return { v: JSON.parse(rest) as JsonPrimitive };
    if (tag === "i:") return { i: Number(rest) };
  } catch {
    return undefined;
  }
  return undefined;
}

/** Reads a stored fieldsV1 back into a set of paths (values unknown). */
export function fromFieldsV1(fields: JsonObject): FieldSet {
  const set: FieldSet = new Map();
  const walk = (node: JsonObject, segs: Segment[]) => {
    const keys = Object.keys(node);
    if (segs.length > 0) {
      const last = segs[segs.length - 1];
      const isElement = last !== undefined && ("k" in last || "i" in last);
      if (keys.length === 0) set.set(pathString(segs), { segments: segs, leaf: true });
      else if ("." in node) set.set(pathString(segs), { segments: segs, leaf: !isElement });
    }
    for (const k of keys) {
      if (k === ".") continue;
      const seg = parseSegmentKey(k);
      const child = node[k];
      if (!seg || !isPlainObject(child)) continue;
      walk(child as JsonObject, [...segs, seg]);
    }
  };
  walk(fields, []);
  return set;
}

// --- reading and removing by path ---

function findIndex(list: unknown[], s: Segment): number {
  if ("i" in s) return s.i < list.length ? s.i : -1;
  if ("v" in s) return list.findIndex((x) => deepEqual(x, s.v));
  if ("k" in s) {
    const keys = Object.keys(s.k);
    return list.findIndex((x) => {
      const k = keyOf(x, keys);
      return k !== undefined && deepEqual(k, s.k);
    });
  }
  return -1;
}

export function valueAt(obj: unknown, segs: readonly Segment[]): unknown {
  let cur: unknown = obj;
  for (const s of segs) {
    if ("f" in s) {
      if (!isPlainObject(cur)) return undefined;
      cur = cur[s.f];
    } else {
      if (!Array.isArray(cur)) return undefined;
      const i = findIndex(cur, s);
      if (i < 0) return undefined;
      cur = cur[i];
    }
  }
  return cur;
}

/** Removes the field or list element at `segs` from `obj` (in place). */
export function removeAt(obj: unknown, segs: readonly Segment[]): void {
  if (segs.length === 0) return;
  const parent = valueAt(obj, segs.slice(0, -1));
  const last = segs[segs.length - 1];
  if (last === undefined) return;
  if ("f" in last) {
    if (isPlainObject(parent)) delete parent[last.f];
    return;
  }
  if (Array.isArray(parent)) {
    const i = findIndex(parent, last);
    if (i >= 0) parent.splice(i, 1);
  }
}
