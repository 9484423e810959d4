import type { Redis } from "ioredis";
import type { ThreadRef } from "../../src/ports/chat.ts";
import type {
  AlertClaim,
  LabWatchState,
  RotationThread,
  RotationThreads,
  WatchStateStore,
} from "../../src/ports/watcher.ts";
import { leaseKey } from "./leases.ts";

/**
 * The rotation watcher's shared state in Redis. Keys, under the installation's prefix:
 *
 *   watch:lease:<lab>          holder id, PX ttl            (RedisLeases, namespace "watch:lease")
 *   watch:state:<lab>          LabWatchState JSON            (written only by the lease holder)
 *   watch:alert:<lab>:<id>     "claimed:<holder>" | "posted:<thread JSON>"
 *   watch:thread:<lab>:<secret>:<version>   RotationThread JSON
 *   watch:nudge                pub/sub channel: a lab has a new version to look at
 *
 * Nothing here holds a secret value: versions, tags, thread references and
 * the fingerprint the rotate card shows.
 */

/** KEYS: lease, state; ARGV: holder, JSON, ttl ms. Writes only while the holder has the lease. */
const SAVE = `
if redis.call("get", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("set", KEYS[2], ARGV[2], "PX", ARGV[3])
return 1`;

/**
 * KEYS: lease, alert; ARGV: holder, ttl ms. Returns {outcome, detail}.
 * A claim left by another holder means that holder died between claiming and
 * posting (a live one would have marked it posted): the new holder may post.
 */
const CLAIM = `
if redis.call("get", KEYS[1]) ~= ARGV[1] then return {"lease_lost", ""} end
local current = redis.call("get", KEYS[2])
if current and string.sub(current, 1, 7) == "posted:" then return {"posted", string.sub(current, 8)} end
redis.call("set", KEYS[2], "claimed:" .. ARGV[1], "PX", ARGV[2])
return {"claimed", ""}`;

/** Watcher state outlives a quiet lab comfortably; a lab's destroy deletes it. */
const STATE_TTL_MS = 30 * 24 * 3_600_000;
const ALERT_TTL_MS = 30 * 24 * 3_600_000;
const THREAD_TTL_MS = 7 * 24 * 3_600_000;

function keys(prefix: string) {
  return {
    lease: (lab: string) => leaseKey(prefix, "watch:lease", lab),
    state: (lab: string) => `${prefix}:watch:state:${lab}`,
    alert: (lab: string, id: string) => `${prefix}:watch:alert:${lab}:${id}`,
    thread: (lab: string, secret: string, version: string) =>
      `${prefix}:watch:thread:${lab}:${secret}:${version}`,
    nudge: `${prefix}:watch:nudge`,
  };
}

/** Watcher state and alert claims, fenced by the lab's lease (the watcher's RedisLeases). */
export class RedisWatchStateStore implements WatchStateStore {
  readonly #redis: Redis;
  readonly #keys: ReturnType<typeof keys>;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#keys = keys(prefix);
  }

  async load(lab: string): Promise<LabWatchState | undefined> {
    const raw = await this.#redis.get(this.#keys.state(lab));
    if (raw === null) return undefined;
    const state = JSON.parse(raw) as LabWatchState;
    return state.schema === 1 ? state : undefined;
  }

  async save(state: LabWatchState, holder: string): Promise<boolean> {
    const result = await this.#redis.eval(
      SAVE,
      2,
      this.#keys.lease(state.lab),
      this.#keys.state(state.lab),
      holder,
      JSON.stringify(state),
      String(STATE_TTL_MS),
    );
    return result === 1;
  }

  async delete(lab: string): Promise<void> {
    await this.#redis.del(this.#keys.state(lab));
    // Alert marks go with the lab; SCAN keeps this off Redis's critical path for a lab with many.
    const stream = this.#redis.scanStream({ match: `${this.#keys.alert(lab, "")}*`, count: 200 });
    for await (const batch of stream as AsyncIterable<string[]>) {
      if (batch.length > 0) await this.#redis.del(...batch);
    }
  }

  async claimAlert(lab: string, id: string, holder: string): Promise<AlertClaim> {
    const [outcome, detail] = (await this.#redis.eval(
      CLAIM,
      2,
      this.#keys.lease(lab),
      this.#keys.alert(lab, id),
      holder,
      String(ALERT_TTL_MS),
    )) as [string, string];
    if (outcome === "posted") {
      return { outcome, thread: detail === "" ? undefined : (JSON.parse(detail) as ThreadRef) };
    }
    return outcome === "claimed" ? { outcome } : { outcome: "lease_lost" };
  }

  async markPosted(lab: string, id: string, thread: ThreadRef | undefined): Promise<void> {
    // Unfenced on purpose: once posted, it is a fact, whoever holds the lease now.
    await this.#redis.set(
      this.#keys.alert(lab, id),
      `posted:${thread ? JSON.stringify(thread) : ""}`,
      "PX",
      ALERT_TTL_MS,
    );
  }
}

/** Rotation threads by lab, secret and version; a registration is announced on a pub/sub channel. */
export class RedisRotationThreads implements RotationThreads {
  readonly #redis: Redis;
  readonly #keys: ReturnType<typeof keys>;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#keys = keys(prefix);
  }

  async register(entry: RotationThread): Promise<void> {
    await this.#redis.set(
      this.#keys.thread(entry.lab, entry.secret, entry.version),
      JSON.stringify(entry),
      "PX",
      THREAD_TTL_MS,
    );
    await this.#redis.publish(this.#keys.nudge, entry.lab);
  }

  async find(lab: string, secret: string, version: string): Promise<RotationThread | undefined> {
    const raw = await this.#redis.get(this.#keys.thread(lab, secret, version));
    return raw === null ? undefined : (JSON.parse(raw) as RotationThread);
  }

  async subscribe(listener: (lab: string) => void): Promise<() => Promise<void>> {
    // A subscribed connection can do nothing else: it gets its own.
    const sub = this.#redis.duplicate();
    sub.on("error", () => undefined); // ioredis reconnects and resubscribes; the vault poll covers the gap
    const channel = this.#keys.nudge;
    sub.on("message", (from: string, lab: string) => {
      if (from === channel) listener(lab);
    });
    await sub.subscribe(channel);
    return async () => {
      await sub.unsubscribe(channel).catch(() => undefined);
      sub.disconnect();
    };
  }
}
