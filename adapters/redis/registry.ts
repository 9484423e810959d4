import type { Redis } from "ioredis";
import type { HostRecord, HostRegistry, LabRecord, LabRegistry } from "../../src/ports/registry.ts";

/** KEYS: record, index; ARGV: JSON, createdAt, name. The record and its index entry, together or not at all. */
const CREATE = `
if not redis.call("set", KEYS[1], ARGV[1], "NX") then return 0 end
redis.call("zadd", KEYS[2], ARGV[2], ARGV[3])
return 1`;

/** KEYS: record; ARGV: the JSON read, the JSON to write. Writes only if the record is still what was read. */
const SWAP = `
if redis.call("get", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("set", KEYS[1], ARGV[2])
return 1`;

/** Where the registry keeps its records and its index (the caps script in caps.ts reads them too). */
export function registryKeys(prefix: string): { index: string; recordPrefix: string } {
  return { index: `${prefix}:labs`, recordPrefix: `${prefix}:lab:` };
}

/**
 * The lab registry in Redis: one JSON document per lab plus an index sorted
 * by creation time (ties by name), which is the order of `list`.
 * Updates use WATCH/MULTI so concurrent steps never lose each other's outputs.
 */
export class RedisLabRegistry<R extends Omit<LabRecord, "host"> = LabRecord> implements LabRegistry<R> {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  #key(name: string): string {
    return `${registryKeys(this.#prefix).recordPrefix}${name}`;
  }
  get #index(): string {
    return registryKeys(this.#prefix).index;
  }

  async get(name: string): Promise<R | undefined> {
    const raw = await this.#redis.get(this.#key(name));
    return raw === null ? undefined : (JSON.parse(raw) as R);
  }

  async create(record: R): Promise<boolean> {
    const created = await this.#redis.eval(
      CREATE,
      2,
      this.#key(record.name),
      this.#index,
      JSON.stringify(record),
      String(record.createdAt),
      record.name,
    );
    return created === 1;
  }

  async update(name: string, change: (record: R) => R): Promise<R | undefined> {
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
        const next = change(JSON.parse(raw) as R);
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

  async list(): Promise<R[]> {
    const names = await this.#redis.zrange(this.#index, "0", "-1");
    if (names.length === 0) return [];
    const raws = await this.#redis.mget(...names.map((n) => this.#key(n)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as R);
  }
}

/**
 * The registry's atomic update for the web role, whose connection fails fast
 * and pipelines (WATCH needs a connection of its own): read, change, and a
 * script that writes only if the record is still what was read, else again.
 * What `lab grant` and `lab revoke` change a lab's members with.
 */
export class ScriptedLabUpdates implements Pick<LabRegistry, "update"> {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async update(name: string, change: (record: LabRecord) => LabRecord): Promise<LabRecord | undefined> {
    const key = `${registryKeys(this.#prefix).recordPrefix}${name}`;
    for (let attempt = 0; attempt < 20; attempt++) {
      const raw = await this.#redis.get(key);
      if (raw === null) return undefined;
      const next = change(JSON.parse(raw) as LabRecord);
      if ((await this.#redis.eval(SWAP, 1, key, raw, JSON.stringify(next))) === 1) return next;
    }
    throw new Error(`lab ${name}: too many concurrent updates`);
  }
}

/** The hosts' registry: the labs' store under `<prefix>:host`, so no host is ever listed as a lab. */
export function redisHostRegistry(redis: Redis, prefix: string): HostRegistry {
  return new RedisLabRegistry<HostRecord>(redis, `${prefix}:host`);
}
