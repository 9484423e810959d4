import type { Redis } from "ioredis";
import type { LabLocks, LabRecord, LabRegistry } from "../../src/ports/registry.ts";

/**
 * The lab registry in Redis: one JSON document per lab plus a sorted index.
 * Updates use WATCH/MULTI so concurrent steps never lose each other's outputs.
 */
export class RedisLabRegistry implements LabRegistry {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  #key(name: string): string {
    return `${this.#prefix}:lab:${name}`;
  }
  get #index(): string {
    return `${this.#prefix}:labs`;
  }

  async get(name: string): Promise<LabRecord | undefined> {
    const raw = await this.#redis.get(this.#key(name));
    return raw === null ? undefined : (JSON.parse(raw) as LabRecord);
  }

  async create(record: LabRecord): Promise<boolean> {
    const ok = await this.#redis.set(this.#key(record.name), JSON.stringify(record), "NX");
    if (ok === null) return false;
    await this.#redis.zadd(this.#index, String(record.createdAt), record.name);
    return true;
  }

  async update(name: string, change: (record: LabRecord) => LabRecord): Promise<LabRecord | undefined> {
    const key = this.#key(name);
    // A dedicated connection: WATCH is per connection and the shared one serves other callers.
    const conn = this.#redis.duplicate();
    conn.on("error", () => undefined); // a Redis restart: the commands below wait or fail on their own
    try {
      for (let attempt = 0; attempt < 20; attempt++) {
        await conn.watch(key);
        const raw = await conn.get(key);
        if (raw === null) {
          await conn.unwatch();
          return undefined;
        }
        const next = change(JSON.parse(raw) as LabRecord);
        const result = await conn.multi().set(key, JSON.stringify(next)).exec();
        if (result !== null) return next;
      }
      throw new Error(`lab ${name}: too many concurrent updates`);
    } finally {
      conn.disconnect();
    }
  }

  async delete(name: string): Promise<void> {
    await this.#redis.multi().del(this.#key(name)).zrem(this.#index, name).exec();
  }

  async list(): Promise<LabRecord[]> {
    const names = await this.#redis.zrange(this.#index, "0", "-1");
    if (names.length === 0) return [];
    const raws = await this.#redis.mget(...names.map((n) => this.#key(n)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as LabRecord);
  }
}

const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

export class RedisLabLocks implements LabLocks {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  #key(lab: string): string {
    return `${this.#prefix}:lock:lab:${lab}`;
  }

  async acquire(lab: string, holder: string, ttlMs: number): Promise<boolean> {
    const ok = await this.#redis.set(this.#key(lab), holder, "PX", ttlMs, "NX");
    if (ok !== null) return true;
    return this.renew(lab, holder, ttlMs);
  }

  async renew(lab: string, holder: string, ttlMs: number): Promise<boolean> {
    const result = await this.#redis.eval(RENEW, 1, this.#key(lab), holder, String(ttlMs));
    return result === 1;
  }

  async release(lab: string, holder: string): Promise<void> {
    await this.#redis.eval(RELEASE, 1, this.#key(lab), holder);
  }

  async holder(lab: string): Promise<string | undefined> {
    return (await this.#redis.get(this.#key(lab))) ?? undefined;
  }
}
