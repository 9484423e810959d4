import type { Redis } from "ioredis";
import type { Leases } from "../../src/ports/leases.ts";

/**
 * The users of leases, each in its own key namespace under the installation's prefix:
 *
 *   lock:lab:<lab>       the lab lock, held by the job working on the lab
 *   watch:lease:<lab>    the rotation watcher's lease (its state and alert claims are fenced by it)
 */
export type LeaseNamespace = "lock:lab" | "watch:lease";

export function leaseKey(prefix: string, namespace: LeaseNamespace, name: string): string {
  return `${prefix}:${namespace}:${name}`;
}

/** KEYS: lease; ARGV: holder, ttl ms. Takes a free lease or extends the holder's own. */
const ACQUIRE = `
local current = redis.call("get", KEYS[1])
if current == false then
  redis.call("set", KEYS[1], ARGV[1], "PX", ARGV[2])
  return 1
end
if current == ARGV[1] then
  redis.call("pexpire", KEYS[1], ARGV[2])
  return 1
end
return 0`;
const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

/**
 * Leases as keys holding the holder's id with a PX expiry, so Redis's clock
 * decides when one lapses; acquire, renew and release compare the holder and
 * act in one Lua script.
 */
export class RedisLeases implements Leases {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #namespace: LeaseNamespace;

  constructor(redis: Redis, prefix: string, namespace: LeaseNamespace) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#namespace = namespace;
  }

  #key(name: string): string {
    return leaseKey(this.#prefix, this.#namespace, name);
  }

  async acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.#redis.eval(ACQUIRE, 1, this.#key(name), holder, pxOf(ttlMs))) === 1;
  }

  async renew(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.#redis.eval(RENEW, 1, this.#key(name), holder, pxOf(ttlMs))) === 1;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.#redis.eval(RELEASE, 1, this.#key(name), holder);
  }

  async holder(name: string): Promise<string | undefined> {
    return (await this.#redis.get(this.#key(name))) ?? undefined;
  }
}

/** PX takes a positive integer; a scaled ttl may be neither. */
function pxOf(ttlMs: number): string {
  return String(Math.max(1, Math.round(ttlMs)));
}
