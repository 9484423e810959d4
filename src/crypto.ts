import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
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

/** A short, non-reversible fingerprint of a value, safe to show ("sha256:1a2b3c4d"). */
export function fingerprint(value: SecretValue | string): string {
  const text = typeof value === "string" ? value : value.reveal();
  return `sha256:${createHash("sha256").update(text, "utf8").digest("hex").slice(0, 8)}`;
}
