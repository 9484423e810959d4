import { generateKeyPairSync, type KeyObject, randomBytes, sign, verify } from "node:crypto";

/**
 * RS256 JSON Web Tokens with node:crypto, as the Bot Framework service and
 * Entra ID issue them: a `kid` in the header, the key published in a JWKS
 * (Bot Framework keys list the channels that endorse them).
 */

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: { kty: string; use: string; kid: string; n: string; e: string; x5t?: string; endorsements?: string[] };
}

export function newSigningKey(options: { kid?: string; endorsements?: string[] } = {}): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = options.kid ?? randomBytes(12).toString("base64url");
  const exported = publicKey.export({ format: "jwk" }) as { n: string; e: string };
  return {
    kid,
    privateKey,
    publicKey,
    jwk: {
      kty: "RSA",
      use: "sig",
      kid,
      x5t: kid,
      n: exported.n,
      e: exported.e,
      ...(options.endorsements ? { endorsements: options.endorsements } : {}),
    },
  };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

export function signJwt(payload: Record<string, unknown>, key: SigningKey, kid: string = key.kid): string {
  const head = b64({ alg: "RS256", typ: "JWT", kid, x5t: kid });
  const body = b64(payload);
  const signature = sign("RSA-SHA256", Buffer.from(`${head}.${body}`), key.privateKey).toString("base64url");
  return `${head}.${body}.${signature}`;
}

export type Verified = { ok: true; payload: Record<string, unknown> } | { ok: false; reason: string };

/** Checks signature (by kid), expiry and not-before; the caller checks the claims it cares about. */
export function verifyJwt(token: string, keys: readonly SigningKey[], now = Date.now()): Verified {
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, reason: "malformed" };
  const [head = "", body = "", signature = ""] = parts;
  let header: { alg?: string; kid?: string };
  let payload: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(head, "base64url").toString("utf8")) as { alg?: string; kid?: string };
    payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (header.alg !== "RS256") return { ok: false, reason: "alg" };
  const key = keys.find((k) => k.kid === header.kid);
  if (!key) return { ok: false, reason: "unknown_kid" };
  const good = verify(
    "RSA-SHA256",
    Buffer.from(`${head}.${body}`),
    key.publicKey,
    Buffer.from(signature, "base64url"),
  );
  if (!good) return { ok: false, reason: "signature" };
  return checkTimes(payload, now);
}

/** Expiry and not-before (five minutes of skew), of a payload whose signature was verified. */
export function checkTimes(payload: Record<string, unknown>, now = Date.now()): Verified {
  const seconds = Math.floor(now / 1000);
  if (typeof payload.exp === "number" && payload.exp < seconds) return { ok: false, reason: "expired" };
  if (typeof payload.nbf === "number" && payload.nbf > seconds + 300)
    return { ok: false, reason: "not_yet_valid" };
  return { ok: true, payload };
}
