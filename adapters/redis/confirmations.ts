import type { Redis } from "ioredis";
import type { Clock } from "../../src/clock.ts";
import type { ChatUser } from "../../src/ports/chat.ts";
import {
  CONFIRMATION_GRACE_MS,
  type ConfirmationStore,
  type ConsumeResult,
  type PendingConfirmation,
} from "../../src/ports/confirmations.ts";

/**
 * Pending confirmations in Redis, one JSON document per id. Taking one is a
 * Lua script (check the user, then delete) so two presses, even on two web
 * replicas, cannot both succeed, and someone else's press leaves it in place.
 * A document outlives its expiry by the grace period (Redis expires it) so
 * that a late press is told "expired" rather than "unknown"; the core checks
 * `expiresAt`.
 */
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
  readonly #clock: Pick<Clock, "now">;
  readonly #graceMs: number;

  /** `clock` says when it is now, to turn `expiresAt` into Redis's expiry. */
  constructor(redis: Redis, prefix: string, clock: Pick<Clock, "now">, options: { graceMs?: number } = {}) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#clock = clock;
    this.#graceMs = options.graceMs ?? CONFIRMATION_GRACE_MS;
  }

  #key(id: string): string {
    return `${this.#prefix}:confirm:${id}`;
  }

  async create(confirmation: PendingConfirmation): Promise<void> {
    const ttl = Math.max(1, Math.ceil(confirmation.expiresAt + this.#graceMs - this.#clock.now()));
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
