import type { Redis } from "ioredis";
import type { ConversationReferenceStore } from "../../src/ports/conversations.ts";

/** How long an unused reference is kept: a lab lives at most days; its channel's reference is refreshed by every message. */
const KEEP_SECONDS = 180 * 24 * 3600;

/** Conversation references in Redis, written by the web role, read by workers for proactive posts. */
export class RedisConversationReferenceStore implements ConversationReferenceStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  #key(key: string): string {
    return `${this.#prefix}:convref:${key}`;
  }

  async save(key: string, reference: Readonly<Record<string, unknown>>): Promise<void> {
    await this.#redis.set(this.#key(key), JSON.stringify(reference), "EX", KEEP_SECONDS);
  }

  async get(key: string): Promise<Record<string, unknown> | undefined> {
    const raw = await this.#redis.get(this.#key(key));
    return raw === null ? undefined : (JSON.parse(raw) as Record<string, unknown>);
  }
}
