import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import { LabopsError } from "./errors.ts";
import { SecretValue } from "./secret-value.ts";

/**
 * Secret values cross Redis (BullMQ job data) only sealed with AES-256-GCM
 * under LABOPS_SECRET_KEY. The additional data binds a sealed value to its
 * purpose (e.g. the delivery id), so it cannot be replayed into another job.
 */
const VERSION = "v1";

export function seal(value: SecretValue, key: Buffer, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(context, "utf8"));
  const body = Buffer.concat([cipher.update(value.reveal(), "utf8"), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [VERSION, iv.toString("base64url"), body.toString("base64url"), tag.toString("base64url")].join(".");
}

export function unseal(sealed: string, key: Buffer, context: string): SecretValue {
  const [version, iv, body, tag] = sealed.split(".");
  if (version !== VERSION || iv === undefined || body === undefined || tag === undefined) {
    throw new LabopsError(
      "sealed_malformed",
      "A sealed secret value is malformed; ask for the rotation again.",
    );
  }
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    const plain = Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]);
    return new SecretValue(plain.toString("utf8"));
  } catch (cause) {
    throw new LabopsError(
      "sealed_unreadable",
      "A sealed secret value cannot be opened: LABOPS_SECRET_KEY differs between web and worker, or the data was altered.",
      { cause },
    );
  }
}

/**
 * The key of the fingerprints the rotation card shows: derived from
 * LABOPS_SECRET_KEY with HKDF-SHA256 under its own label, so it is never the
 * sealing key itself and knowing a fingerprint says nothing about it.
 */
export function fingerprintKey(secretKey: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", secretKey, Buffer.alloc(0), "labops fingerprint v1", 32));
}

/**
 * A short fingerprint of a value, safe to show to a channel ("hmac:1a2b3c4d"):
 * HMAC-SHA256 under `fingerprintKey`, so a short value (a word, a PIN) cannot
 * be found by hashing guesses, as an unkeyed sha256 prefix could be.
 */
export function fingerprint(value: SecretValue | string, key: Buffer): string {
  const text = typeof value === "string" ? value : value.reveal();
  return `hmac:${createHmac("sha256", key).update(text, "utf8").digest("hex").slice(0, 8)}`;
}

/**
 * The key that authenticates what a private form carries back (the secret and
 * lab it was opened for, and where): derived from LABOPS_SECRET_KEY with
 * HKDF-SHA256 under its own label, like the fingerprint key.
 */
export function formLinkKey(secretKey: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", secretKey, Buffer.alloc(0), "labops form link v1", 32));
}
