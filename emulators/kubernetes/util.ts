import { randomBytes, randomUUID } from "node:crypto";
import type { JsonValue } from "./types.ts";

/** The alphabet Kubernetes uses for generated names: no vowels, no confusable digits. */
const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/** Like utilrand.String(n): the suffix of generateName and of pod names. */
export function randomSuffix(length = 5): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += SAFE_ALPHABET[b % SAFE_ALPHABET.length];
  return out;
}

/** Like rand.SafeEncodeString: maps each character of `s` onto the safe alphabet. */
export function safeEncodeString(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) out += SAFE_ALPHABET[s.charCodeAt(i) % SAFE_ALPHABET.length];
  return out;
}

/** 32-bit FNV-1a, the hash the deployment controller feeds into SafeEncodeString. */
export function fnv32a(input: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < input.length; i++) {
    hash ^= input.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function newUid(): string {
  return randomUUID();
}

/** metav1.Time: RFC 3339 with second precision. */
export function rfc3339(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

/** metav1.MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000Z`;
}

/** JSON with keys in sorted order, so equal objects give equal strings. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (ak.length !== bk.length) return false;
  for (const k of ak) if (!deepEqual(ao[k], bo[k])) return false;
  return true;
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function asJson(value: unknown): JsonValue {
  return value as JsonValue;
}

/**
 * Go-style duration ("1m", "2m0s", "90s", "1h30m", "500ms") to milliseconds,
 * as the addon's rotationPollInterval is written.
 */
export function parseGoDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === "" || s === "0") return s === "0" ? 0 : undefined;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    if (m.index !== consumed) return undefined;
    consumed += m[0].length;
    const n = Number(m[1]);
    const unit = m[2];
    const factor =
      unit === "h"
        ? 3_600_000
        : unit === "m"
          ? 60_000
          : unit === "s"
            ? 1000
            : unit === "ms"
              ? 1
              : unit === "us" || unit === "µs"
                ? 0.001
                : 0.000001;
    total += n * factor;
  }
  return consumed === s.length ? total : undefined;
}

/** Go's time.Duration String(): 61.2s -> "1m1.2s", 2.9s -> "2.9s", 450ms -> "450ms". */
export function formatGoDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const totalSeconds = ms / 1000;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = Math.round((totalSeconds % 60) * 1000) / 1000;
  let out = "";
  if (hours > 0) out += `${hours}h`;
  if (hours > 0 || minutes > 0) out += `${minutes}m`;
  return `${out}${seconds}s`;
}

/** Resolves an int-or-percent against a total, rounding as Kubernetes does for surge (up) or unavailability (down). */
export function intOrPercent(value: number | string | undefined, total: number, roundUp: boolean): number {
  if (value === undefined) return 0;
  if (typeof value === "number") return value;
  const m = /^(\d+)%$/.exec(value.trim());
  if (m) {
    const exact = (Number(m[1]) * total) / 100;
    return roundUp ? Math.ceil(exact) : Math.floor(exact);
  }
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}
