import { randomBytes } from "node:crypto";

/**
 * Identifiers for the emulated world. With a seed, GUIDs, client ids and
 * secret versions repeat from run to run, so a demo or a failing test can be
 * replayed; without one they come from the system's random source. Signing
 * keys and client secrets always come from the system's random source: a
 * predictable secret would be a bad habit to teach, even in an emulator.
 */
export interface IdSource {
  /** A lowercase RFC 4122 version 4 GUID. */
  guid(): string;
  /** Lowercase hex of `bytes` random bytes (Key Vault secret versions are 32 hex chars). */
  hex(bytes: number): string;
  /** A float in [0, 1), for the chaos mode. */
  next(): number;
}

/** mulberry32: tiny, fast and good enough to spread faults and ids; not for cryptography. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function formatGuid(bytes: Uint8Array): string {
  // Version 4, variant 10xx, as Entra and ARM hand them out.
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const h = Buffer.from(bytes).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function createIdSource(seed?: number): IdSource {
  if (seed === undefined) {
    return {
      guid: () => formatGuid(randomBytes(16)),
      hex: (n) => randomBytes(n).toString("hex"),
      next: () => randomBytes(4).readUInt32BE(0) / 4294967296,
    };
  }
  const rnd = mulberry32(seed);
  const bytes = (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(rnd() * 256);
    return out;
  };
  return {
    guid: () => formatGuid(bytes(16)),
    hex: (n) => Buffer.from(bytes(n)).toString("hex"),
    next: rnd,
  };
}

/** A client secret in the shape Entra issues (40 characters, `~` and `.` included). */
export function newClientSecret(): string {
  return randomBytes(30).toString("base64").replace(/\+/g, "~").replace(/\//g, ".").slice(0, 40);
}

export const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
