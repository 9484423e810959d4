import { ApiError } from "./errors.ts";
import { isAtomicObject, listKind } from "./schema.ts";
import { clone, deepEqual, isPlainObject } from "./util.ts";

/**
 * The three patch formats of PATCH (RFC 6902 JSON patch, RFC 7386 merge
 * patch, Kubernetes strategic merge patch) and the merge step of
 * server-side apply. All return a new document and leave their inputs alone.
 */

/**
 * A JSON patch that does not apply (a failed `test`, a missing path, an
 * unknown op). The API server answers every such error the same way,
 * dropping json-patch's own text: `errors.NewGenericServerResponse(422, "",
 * schema.GroupResource{}, "", err.Error(), 0, false)`
 * (kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/endpoints/handlers/
 * patch.go applyJSPatch), which for 422 is reason Invalid, the fixed message
 * below and empty details (staging/src/k8s.io/apimachinery/pkg/api/errors/
 * errors.go NewGenericServerResponse). `_why` is what json-patch would say,
 * for whoever reads this code.
 */
function patchError(_why: string): ApiError {
  return new ApiError({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: "the server rejected our request due to an error in our request",
    reason: "Invalid",
    details: {},
    code: 422,
  });
}

/** A patch body that does not decode: 400 with the decoder's message (patch.go: errors.NewBadRequest). */
function decodeError(message: string): ApiError {
  return new ApiError({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason: "BadRequest",
    code: 400,
  });
}

// --- JSON patch ---

interface JsonPatchOp {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function pointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw patchError(`invalid JSON pointer: ${JSON.stringify(path)}`);
  return path
    .slice(1)
    .split("/")
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function resolveParent(doc: unknown, parts: string[], opName: string, path: string): [unknown, string] {
  let cur = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i] ?? "";
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isPlainObject(cur)) cur = cur[p];
    else cur = undefined;
    if (cur === undefined || cur === null) {
      throw patchError(`doc is missing path: "${path}": missing value`);
    }
  }
  void opName;
  return [cur, parts[parts.length - 1] ?? ""];
}

function getAt(doc: unknown, path: string): unknown {
  let cur = doc;
  for (const p of pointer(path)) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isPlainObject(cur)) cur = cur[p];
    else return undefined;
  }
  return cur;
}

export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops))
    throw decodeError("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  let out = clone(doc);
  for (const raw of ops as JsonPatchOp[]) {
    if (!isPlainObject(raw) || typeof raw.op !== "string" || typeof raw.path !== "string") {
      throw patchError("invalid JSON patch operation");
    }
    const op = raw.op;
    const parts = pointer(raw.path);
    const apply = (target: unknown, value: unknown, mode: "add" | "replace" | "remove") => {
      if (parts.length === 0) {
        if (mode === "remove") throw patchError("unable to remove the document root");
        out = clone(value);
        return;
      }
      const [parent, last] = resolveParent(target, parts, op, raw.path);
      if (Array.isArray(parent)) {
        const idx = last === "-" ? parent.length : Number(last);
        if (
          !Number.isInteger(idx) ||
          idx < 0 ||
          idx > parent.length ||
          (mode !== "add" && idx >= parent.length)
        ) {
          throw patchError(`Unable to access invalid index: ${last}`);
        }
        if (mode === "add") parent.splice(idx, 0, clone(value));
        else if (mode === "replace") parent[idx] = clone(value);
        else parent.splice(idx, 1);
      } else if (isPlainObject(parent)) {
        if (mode !== "add" && !(last in parent)) {
          throw patchError(
            `${mode} operation does not apply: doc is missing key: ${raw.path}: missing value`,
          );
        }
        if (mode === "remove") delete parent[last];
        else parent[last] = clone(value);
      } else {
        throw patchError(`doc is missing path: "${raw.path}": missing value`);
      }
    };
    switch (op) {
      case "add":
        apply(out, raw.value, "add");
        break;
      case "replace":
        apply(out, raw.value, "replace");
        break;
      case "remove":
        apply(out, undefined, "remove");
        break;
      case "test":
        if (!deepEqual(getAt(out, raw.path), raw.value)) {
          throw patchError(`testing value ${raw.path} failed: test failed`);
        }
        break;
      case "copy":
      case "move": {
        if (typeof raw.from !== "string") throw patchError(`${op} operation requires "from"`);
        const value = getAt(out, raw.from);
        if (value === undefined) throw patchError(`doc is missing from path: ${raw.from}: missing value`);
        if (op === "move") {
          const fromParts = pointer(raw.from);
          const [parent, last] = resolveParent(out, fromParts, op, raw.from);
          if (Array.isArray(parent)) parent.splice(Number(last), 1);
          else if (isPlainObject(parent)) delete parent[last];
        }
        apply(out, value, "add");
        break;
      }
      default:
        throw patchError(`Unexpected kind: ${op}`);
    }
  }
  return out;
}

// --- JSON merge patch ---

export function mergePatch(doc: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isPlainObject(doc) ? clone(doc) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// --- strategic merge patch ---

const DIRECTIVE = "$patch";
const RETAIN_KEYS = "$retainKeys";
const SET_ORDER_PREFIX = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_PREFIX = "$deleteFromPrimitiveList/";

export function strategicMergePatch(doc: unknown, patch: unknown): unknown {
  return smpObject(isPlainObject(doc) ? clone(doc) : {}, patch, []);
}

function smpObject(target: Record<string, unknown>, patch: unknown, path: string[]): Record<string, unknown> {
  if (!isPlainObject(patch))
    throw decodeError(
      `json: cannot unmarshal ${Array.isArray(patch) ? "array" : typeof patch} into Go value of type map[string]interface {}`,
    );
  const directive = patch[DIRECTIVE];
  if (directive === "replace") {
    const replaced: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(patch)) if (k !== DIRECTIVE) replaced[k] = clone(v);
    return replaced;
  }
  if (directive === "delete") return {};
  const retain = patch[RETAIN_KEYS];
  for (const [k, v] of Object.entries(patch)) {
    if (k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(SET_ORDER_PREFIX)) continue;
    if (k.startsWith(DELETE_FROM_PRIMITIVE_PREFIX)) {
      const field = k.slice(DELETE_FROM_PRIMITIVE_PREFIX.length);
      const list = target[field];
      if (Array.isArray(list) && Array.isArray(v)) {
        target[field] = list.filter((x) => !v.some((d) => deepEqual(d, x)));
      }
      continue;
    }
    if (v === null) {
      delete target[k];
      continue;
    }
    const childPath = [...path, k];
    const cur = target[k];
    if (Array.isArray(v)) {
      target[k] = smpList(Array.isArray(cur) ? cur : [], v, childPath);
    } else if (isPlainObject(v)) {
      if (v[DIRECTIVE] === "delete") {
        delete target[k];
        continue;
      }
      target[k] = smpObject(isPlainObject(cur) ? cur : {}, v, childPath);
    } else {
      target[k] = clone(v);
    }
  }
  if (Array.isArray(retain)) {
    for (const k of Object.keys(target)) if (!retain.includes(k)) delete target[k];
  }
  // $setElementOrder only fixes ordering; lists already keep the live order plus new elements.
  return target;
}

function smpList(target: unknown[], patch: unknown[], path: string[]): unknown[] {
  if (patch.some((p) => isPlainObject(p) && p[DIRECTIVE] === "replace")) {
    return patch.filter((p) => !(isPlainObject(p) && p[DIRECTIVE] === "replace")).map((p) => clone(p));
  }
  const kind = listKind(path, false);
  if (kind.type === "set") {
    const out = [...target];
    for (const v of patch) if (!out.some((x) => deepEqual(x, v))) out.push(clone(v));
    return out;
  }
  if (kind.type !== "map") return patch.map((p) => clone(p));
  const keys = kind.keys;
  const out = target.map((t) => clone(t));
  const sameKey = (a: unknown, b: unknown) =>
    isPlainObject(a) && isPlainObject(b) && keys.every((k) => deepEqual(a[k], b[k]));
  for (const item of patch) {
    if (!isPlainObject(item)) {
      out.push(clone(item));
      continue;
    }
    const idx = out.findIndex((t) => sameKey(t, item));
    if (item[DIRECTIVE] === "delete") {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0)
      out[idx] = smpObject(isPlainObject(out[idx]) ? (out[idx] as Record<string, unknown>) : {}, item, path);
    else out.push(smpObject({}, item, path));
  }
  return out;
}

// --- server-side apply merge ---

/** Merges an applied configuration into `target` (in place), honouring associative lists and atomic fields. */
export function applyMerge(
  target: Record<string, unknown>,
  config: Record<string, unknown>,
  path: string[] = [],
): void {
  for (const [k, v] of Object.entries(config)) {
    if (v === undefined) continue;
    const childPath = [...path, k];
    const cur = target[k];
    if (v === null) {
      delete target[k];
    } else if (isPlainObject(v) && !isAtomicObject(childPath) && isPlainObject(cur)) {
      applyMerge(cur, v, childPath);
    } else if (Array.isArray(v) && Array.isArray(cur)) {
      target[k] = applyMergeList(cur, v, childPath);
    } else {
      target[k] = clone(v);
    }
  }
}

function applyMergeList(cur: unknown[], applied: unknown[], path: string[]): unknown[] {
  const kind = listKind(path, true);
  if (kind.type === "set") {
    const out = [...cur];
    for (const v of applied) if (!out.some((x) => deepEqual(x, v))) out.push(clone(v));
    return out;
  }
  if (kind.type !== "map") return applied.map((v) => clone(v));
  const keys = kind.keys;
  const keyOf = (x: unknown) =>
    isPlainObject(x) ? keys.map((k) => (x[k] === undefined && k === "protocol" ? "TCP" : x[k])) : undefined;
  const out = cur.map((x) => clone(x));
  for (const item of applied) {
    const key = keyOf(item);
    const idx = key === undefined ? -1 : out.findIndex((x) => deepEqual(keyOf(x), key));
    if (idx >= 0 && isPlainObject(out[idx]) && isPlainObject(item)) {
      applyMerge(out[idx] as Record<string, unknown>, item, path);
    } else if (idx >= 0) {
      out[idx] = clone(item);
    } else {
      out.push(clone(item));
    }
  }
  return out;
}
