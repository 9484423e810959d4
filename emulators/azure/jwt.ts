import { createPublicKey, generateKeyPair, type KeyObject, sign, verify } from "node:crypto";
import { promisify } from "node:util";

/**
 * RS256 JSON Web Tokens, enough for Entra-like access tokens and Kubernetes
 * service-account tokens. Built on node:crypto so the emulator needs no JWT
 * library at run time.
 */

export interface JsonWebKeyPublic {
  kty: string;
  n: string;
  e: string;
  kid: string;
  use: "sig";
  alg: "RS256";
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: JsonWebKeyPublic;
}

export type JwtPayload = Record<string, unknown>;

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: JwtPayload;
  signingInput: string;
  signature: Buffer;
}

const generateRsa = promisify(generateKeyPair);

export async function createSigningKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateRsa("rsa", { modulusLength: 2048 });
  const exported = publicKey.export({ format: "jwk" });
  if (typeof exported.n !== "string" || typeof exported.e !== "string") {
    throw new Error("RSA public key did not export as a JWK");
  }
  return {
    kid,
    privateKey,
    publicKey,
    jwk: { kty: "RSA", n: exported.n, e: exported.e, kid, use: "sig", alg: "RS256" },
  };
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

export function signJwt(key: SigningKey, payload: JwtPayload, typ = "JWT"): string {
  const header = { alg: "RS256", typ, kid: key.kid };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = sign("sha256", Buffer.from(input), key.privateKey);
  return `${input}.${b64url(signature)}`;
}

function parseJsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Splits and parses a compact JWS without checking anything; undefined when it is not one. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  const header = parseJsonObject(h);
  const payload = parseJsonObject(p);
  if (!header || !payload) return undefined;
  return { header, payload, signingInput: `${h}.${p}`, signature: Buffer.from(s, "base64url") };
}

/** True when `jwt` carries a valid RS256 signature by one of `keys` (matched by kid). */
export function verifyJwtSignature(jwt: DecodedJwt, keys: readonly JsonWebKeyPublic[]): boolean {
  if (jwt.header.alg !== "RS256") return false;
  const key = keys.find((k) => k.kid === jwt.header.kid);
  if (!key) return false;
  const publicKey = createPublicKey({ key: { kty: key.kty, n: key.n, e: key.e }, format: "jwk" });
  return verify("sha256", Buffer.from(jwt.signingInput), publicKey, jwt.signature);
}

/** Seconds since the epoch, as JWT time claims count. */
export const epochSeconds = (ms: number) => Math.floor(ms / 1000);
