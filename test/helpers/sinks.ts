import type { Redis } from "ioredis";

/**
 * Everything stored under an installation's prefix, whatever the key type, as
 * text: strings, hashes, lists, sets, sorted sets and streams (BullMQ job
 * data and events, the audit stream, the registry, leases…), one key per line.
 */
export async function dumpRedis(redis: Redis, prefix: string): Promise<string> {
  const out: string[] = [];
  for (const key of await scanKeys(redis, `${prefix}*`)) {
    const type = await redis.type(key);
    let value: unknown;
    if (type === "string") value = await redis.get(key);
    else if (type === "hash") value = await redis.hgetall(key);
    else if (type === "list") value = await redis.lrange(key, 0, -1);
    else if (type === "set") value = await redis.smembers(key);
    else if (type === "zset") value = await redis.zrange(key, "0", "-1", "WITHSCORES");
    else if (type === "stream") value = await redis.xrange(key, "-", "+");
    else value = `(${type})`;
    out.push(`${key} ${typeof value === "string" ? value : JSON.stringify(value)}`);
  }
  return out.join("\n");
}

/** Every key matching `pattern`, by SCAN (the Redis is shared: never KEYS on a big one). */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys;
}

/** The text a sink holds when the canary got there, in clear or in the encodings a careless log would use. */
export function canaryForms(canary: string): { form: string; needle: string }[] {
  const bytes = Buffer.from(canary, "utf8");
  const forms = [
    { form: "clear", needle: canary },
    { form: "hex", needle: bytes.toString("hex") },
    { form: "HEX", needle: bytes.toString("hex").toUpperCase() },
  ];
  // Base64 of a longer text holds the canary's bytes at one of three alignments;
  // keep only the characters that depend on the canary's bytes alone.
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes])
      .toString("base64")
      .replace(/=+$/, "");
    const head = offset === 0 ? 0 : 4;
    const tail = (offset + bytes.length) % 3 === 0 ? encoded.length : encoded.length - 4;
    const needle = encoded.slice(head, tail);
    forms.push({ form: `base64@${offset}`, needle });
    forms.push({ form: `base64url@${offset}`, needle: needle.replace(/\+/g, "-").replace(/\//g, "_") });
  }
  return forms;
}

/** Where the canary shows in `haystack`: one entry per form found, with some context; empty when it is nowhere. */
export function findCanary(haystack: string, canary: string): string[] {
  const hits: string[] = [];
  for (const { form, needle } of canaryForms(canary)) {
    const at = haystack.indexOf(needle);
    if (at >= 0) hits.push(`${form}: …${haystack.slice(Math.max(0, at - 80), at + needle.length + 80)}…`);
  }
  return hits;
}

/**
 * Removes everything a test or bench stored under `prefix` (its queue first,
 * when it has one, so BullMQ's own bookkeeping goes too) and disconnects.
 */
export async function dropPrefix(
  redis: Redis,
  prefix: string,
  queue?: { obliterate(o: { force: boolean }): Promise<void>; close(): Promise<void> },
): Promise<void> {
  if (queue) {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
  const keys = await scanKeys(redis, `${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}
