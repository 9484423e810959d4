import { badRequest } from "./errors.ts";
import type { LabelSelector } from "./types.ts";

/** One parsed label requirement, as labels.Requirement holds it. */
export interface LabelRequirement {
  key: string;
  op: "exists" | "!exists" | "=" | "!=" | "in" | "notin" | "gt" | "lt";
  values: string[];
}

export type Labels = Record<string, string> | undefined;

export function matchesRequirement(labels: Labels, r: LabelRequirement): boolean {
  const has = labels !== undefined && Object.hasOwn(labels, r.key);
  const v = has ? labels?.[r.key] : undefined;
  switch (r.op) {
    case "exists":
      return has;
    case "!exists":
      return !has;
    case "=":
    case "in":
      return has && r.values.includes(v ?? "");
    case "!=":
    case "notin":
      return !has || !r.values.includes(v ?? "");
    case "gt":
    case "lt": {
      if (!has) return false;
      const n = Number(v);
      const bound = Number(r.values[0]);
      if (!Number.isInteger(n)) return false;
      return r.op === "gt" ? n > bound : n < bound;
    }
    default:
      return false;
  }
}

export function matchesAll(labels: Labels, reqs: readonly LabelRequirement[]): boolean {
  for (const r of reqs) if (!matchesRequirement(labels, r)) return false;
  return true;
}

const KEY_RE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function parseError(detail: string): never {
  throw badRequest(`unable to parse requirement: ${detail}`);
}

/** Splits on commas that are not inside a `( … )` set. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

/** Parses the string form (`app=web,tier in (a,b),!legacy`) as labels.Parse does. */
export function parseLabelSelector(text: string | undefined): LabelRequirement[] {
  if (text === undefined) return [];
  const trimmed = text.trim();
  if (trimmed === "") return [];
  const reqs: LabelRequirement[] = [];
  for (const raw of splitTopLevel(trimmed)) {
    const part = raw.trim();
    if (part === "") parseError(`found '', expected: identifier`);
    let m = /^!\s*([^\s=!<>(),]+)$/.exec(part);
    if (m?.[1]) {
      checkKey(m[1]);
      reqs.push({ key: m[1], op: "!exists", values: [] });
      continue;
    }
    m = /^([^\s=!<>(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
    if (m?.[1] && m[2] && m[3] !== undefined) {
      checkKey(m[1]);
      const values = m[3]
        .split(",")
        .map((v) => v.trim())
        .filter((v) => v !== "");
      for (const v of values) checkValue(v);
      reqs.push({ key: m[1], op: m[2] === "in" ? "in" : "notin", values });
      continue;
    }
    m = /^([^\s=!<>(),]+)\s*(==|=|!=|>|<)\s*([^\s=!<>(),]*)$/.exec(part);
    if (m?.[1] && m[2]) {
      const value = m[3] ?? "";
      checkKey(m[1]);
      const op = m[2];
      if (op === ">" || op === "<") {
        if (!/^-?\d+$/.test(value)) parseError(`for 'gt', 'lt' operators, the value must be an integer`);
        reqs.push({ key: m[1], op: op === ">" ? "gt" : "lt", values: [value] });
        continue;
      }
      checkValue(value);
      reqs.push({ key: m[1], op: op === "!=" ? "!=" : "=", values: [value] });
      continue;
    }
    m = /^([^\s=!<>(),]+)$/.exec(part);
    if (m?.[1]) {
      checkKey(m[1]);
      reqs.push({ key: m[1], op: "exists", values: [] });
      continue;
    }
    parseError(`found '${part}', expected: in, notin, =, ==, !=, gt, lt`);
  }
  return reqs;
}

function checkKey(key: string): void {
  if (!KEY_RE.test(key) || key.length > 317) {
    parseError(
      `Invalid value: ${JSON.stringify(key)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
    );
  }
}

function checkValue(v: string): void {
  if (v.length > 63 || !VALUE_RE.test(v)) {
    parseError(
      `Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
    );
  }
}

/** metav1.LabelSelectorAsSelector. `undefined` selects nothing; `{}` selects everything. */
export function selectorRequirements(sel: LabelSelector | undefined): LabelRequirement[] | undefined {
  if (sel === undefined) return undefined;
  const reqs: LabelRequirement[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key: k, op: "=", values: [v] });
  for (const e of sel.matchExpressions ?? []) {
    const op =
      e.operator === "In"
        ? "in"
        : e.operator === "NotIn"
          ? "notin"
          : e.operator === "Exists"
            ? "exists"
            : e.operator === "DoesNotExist"
              ? "!exists"
              : undefined;
    if (op === undefined) continue;
    reqs.push({ key: e.key, op, values: e.values ?? [] });
  }
  return reqs;
}

export function selectorMatches(sel: LabelSelector | undefined, labels: Labels): boolean {
  const reqs = selectorRequirements(sel);
  if (reqs === undefined) return false;
  return matchesAll(labels, reqs);
}

/** Renders a LabelSelector in the string form (for messages and the scale subresource). */
export function selectorString(sel: LabelSelector | undefined): string {
  const reqs = selectorRequirements(sel) ?? [];
  return reqs
    .map((r) => {
      switch (r.op) {
        case "exists":
          return r.key;
        case "!exists":
          return `!${r.key}`;
        case "=":
          return `${r.key}=${r.values[0] ?? ""}`;
        case "!=":
          return `${r.key}!=${r.values[0] ?? ""}`;
        case "in":
          return `${r.key} in (${r.values.join(",")})`;
        case "notin":
          return `${r.key} notin (${r.values.join(",")})`;
        default:
          return r.key;
      }
    })
    .join(",");
}

// --- field selectors ---

export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

export function parseFieldSelector(text: string | undefined): FieldRequirement[] {
  if (text === undefined || text.trim() === "") return [];
  const reqs: FieldRequirement[] = [];
  for (const raw of text.split(",")) {
    const part = raw.trim();
    if (part === "") continue;
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m?.[1] || !m[2]) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    reqs.push({ field: m[1].trim(), op: m[2] === "!=" ? "!=" : "=", value: (m[3] ?? "").trim() });
  }
  return reqs;
}

export function matchesFields(fields: Record<string, string>, reqs: readonly FieldRequirement[]): boolean {
  for (const r of reqs) {
    const v = fields[r.field] ?? "";
    if (r.op === "=" ? v !== r.value : v === r.value) return false;
  }
  return true;
}
