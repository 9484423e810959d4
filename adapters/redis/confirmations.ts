import type { Redis } from "ioredis";
import type { ChatUser } from "../../src/ports/chat.ts";
import type { ConfirmationStore, ConsumeResult, PendingConfirmation } from "../../src/ports/confirmations.ts";

/**
 * Pending confirmations in Redis, one JSON document per id. Taking one is a
 * Lua script (check the user, then delete) so two presses, even on two web
 * replicas, cannot both succeed, and someone else's press leaves it in place.
 * A document outlives its expiry by a grace period so that a late press is
 * told "expired" rather than "unknown"; the core checks `expiresAt`.
 */
const GRACE_MS = 10 * 60_000;

const CONSUME = `
local raw = redis.call('GET', KEYS[1])
if not raw then return {'unknown'} end
local doc = cjson.decode(raw)
if doc.user.platform ~= ARGV[1] or doc.user.id ~= ARGV[2] then return {'other_user'} end
redis.call('DEL', KEYS[1])
return {'ok', raw}
`;

export class RedisConfirmationStore implements ConfirmationStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #now: () => number;

  constructor(redis: Redis, prefix: string, now: () => number = Date.now) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#now = now;
  }

  #key(id: string): string {
    return `${this.#prefix}:confirm:${id}`;
  }

  async create(confirmation: PendingConfirmation): Promise<void> {
    const ttl = Math.max(1_000, confirmation.expiresAt - this.#now() + GRACE_MS);
    await this.#redis.set(this.#key(confirmation.id), JSON.stringify(confirmation), "PX", ttl);
  }

  async consume(id: string, by: ChatUser): Promise<ConsumeResult> {
    const result = (await this.#redis.eval(CONSUME, 1, this.#key(id), by.platform, by.id)) as string[];
    const [status, raw] = result;
    if (status === "ok" && raw !== undefined) {
      return { ok: true, confirmation: JSON.parse(raw) as PendingConfirmation };
    }
    return { ok: false, reason: status === "other_user" ? "other_user" : "unknown" };
  }
}
