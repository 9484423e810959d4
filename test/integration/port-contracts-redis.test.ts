import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisAuditLog } from "../../adapters/redis/audit.ts";
import { RedisLabCaps } from "../../adapters/redis/caps.ts";
import { RedisConfirmationStore } from "../../adapters/redis/confirmations.ts";
import { RedisDeliveryLog } from "../../adapters/redis/deliveries.ts";
import { RedisLeases } from "../../adapters/redis/leases.ts";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { RedisRotationThreads, RedisWatchStateStore } from "../../adapters/redis/watcher.ts";
import { BullCommandQueue } from "../../jobs/queue.ts";
import { fromWire } from "../../src/commands/envelope.ts";
import { auditLogContract } from "../contract/audit.contract.ts";
import { labCapsContract } from "../contract/caps.contract.ts";
import { confirmationStoreContract } from "../contract/confirmations.contract.ts";
import { deliveryLogContract } from "../contract/deliveries.contract.ts";
import { leasesContract } from "../contract/leases.contract.ts";
import { commandQueueContract } from "../contract/queue.contract.ts";
import { labRegistryContract } from "../contract/registry.contract.ts";
import { rotationThreadsContract } from "../contract/rotation-threads.contract.ts";
import { watchStateStoreContract } from "../contract/watch-state.contract.ts";
import { REDIS_URL, uniquePrefix } from "../helpers/env.ts";

/**
 * The Redis implementations (and BullMQ's queue) held to the port contracts,
 * on real Redis, each test under a key prefix of its own. `peer` is a second
 * connection, as another replica would hold. Time passes for real: Redis
 * lapses keys on its own clock.
 */

const redis = new Redis(REDIS_URL);
const replica = new Redis(REDIS_URL);
const queues: BullCommandQueue[] = [];
afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()));
  redis.disconnect();
  replica.disconnect();
});

const elapse = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const wallClock = { now: () => Date.now() };

leasesContract("RedisLeases", () => {
  const prefix = uniquePrefix("lease");
  return {
    leases: new RedisLeases(redis, prefix, "lock:lab"),
    other: new RedisLeases(redis, prefix, "watch:lease"),
    elapse,
  };
});

labRegistryContract("RedisLabRegistry", () => new RedisLabRegistry(redis, uniquePrefix("reg")));

confirmationStoreContract("RedisConfirmationStore", () => {
  const prefix = uniquePrefix("confirm");
  const graceMs = 500;
  return {
    store: new RedisConfirmationStore(redis, prefix, wallClock, { graceMs }),
    peer: new RedisConfirmationStore(replica, prefix, wallClock, { graceMs }),
    now: wallClock.now,
    elapse,
    graceMs,
  };
});

deliveryLogContract("RedisDeliveryLog", () => {
  const prefix = uniquePrefix("seen");
  return { log: new RedisDeliveryLog(redis, prefix), peer: new RedisDeliveryLog(replica, prefix), elapse };
});

auditLogContract("RedisAuditLog", () => new RedisAuditLog(redis, uniquePrefix("audit")));

commandQueueContract("BullCommandQueue", () => {
  const secretKey = randomBytes(32);
  const prefix = uniquePrefix("queue");
  const audit = new RedisAuditLog(redis, prefix);
  const queue = new BullCommandQueue({ connection: redis, prefix, secretKey, audit });
  queues.push(queue);
  return {
    queue,
    audit,
    jobs: async () => {
      // Oldest first: the order a worker takes them.
      const jobs = await queue.queue.getJobs(["waiting"], 0, -1, true);
      return jobs.map((job) => fromWire(job.data, secretKey));
    },
  };
});

watchStateStoreContract("RedisWatchStateStore", () => {
  const prefix = uniquePrefix("watch");
  return {
    store: new RedisWatchStateStore(redis, prefix),
    leases: new RedisLeases(redis, prefix, "watch:lease"),
    elapse,
  };
});

rotationThreadsContract("RedisRotationThreads", () => {
  const prefix = uniquePrefix("threads");
  return {
    threads: new RedisRotationThreads(redis, prefix),
    peer: new RedisRotationThreads(replica, prefix),
  };
});

describe("the Redis leases' keys", () => {
  it("keep each user's namespace: the lab lock's, and the watcher's that fences its state", async () => {
    const prefix = uniquePrefix("lease-keys");
    await new RedisLeases(redis, prefix, "lock:lab").acquire("team-a", "job-1", 60_000);
    await new RedisLeases(redis, prefix, "watch:lease").acquire("team-a", "watcher-1", 60_000);
    expect(await redis.get(`${prefix}:lock:lab:team-a`)).toBe("job-1");
    expect(await redis.get(`${prefix}:watch:lease:team-a`)).toBe("watcher-1");
    const store = new RedisWatchStateStore(redis, prefix);
    const state = {
      schema: 1 as const,
      lab: "team-a",
      baselined: false,
      versions: {},
      traces: [],
      finished: [],
      restartBaseline: {},
      restarts: undefined,
      updatedAt: 1,
    };
    expect(await store.save(state, "job-1")).toBe(false);
    expect(await store.save(state, "watcher-1")).toBe(true);
  });
});

labCapsContract("RedisLabCaps", () => {
  const prefix = uniquePrefix("caps");
  return {
    caps: new RedisLabCaps(redis, prefix),
    peer: new RedisLabCaps(replica, prefix),
    registry: new RedisLabRegistry(redis, prefix),
    now: wallClock.now,
    elapse,
  };
});
