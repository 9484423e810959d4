import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisAuditLog } from "../../adapters/redis/audit.ts";
import { RedisConversationReferenceStore } from "../../adapters/redis/conversations.ts";
import { auditEntryFixture } from "../contract/audit.contract.ts";
import { REDIS_URL, uniquePrefix } from "../helpers/env.ts";

const redis = new Redis(REDIS_URL);
afterAll(() => redis.disconnect());

/**
 * What only the Redis stores show: the audit trail's stream, and the
 * conversation references (a port with one implementation). The port
 * contracts, in port-contracts-redis.test.ts, hold the rest.
 */
describe("RedisAuditLog", () => {
  const entry = auditEntryFixture;

  it("appends to a stream and reads a lab's recent entries back, newest first", async () => {
    const prefix = uniquePrefix("audit");
    const audit = new RedisAuditLog(redis, prefix);
    await audit.record(entry(1, "team-a"));
    await audit.record(entry(2));
    await audit.record(entry(3, "team-b"));
    await audit.record(entry(4, "team-a"));
    expect(await audit.recent({ lab: "team-a" })).toEqual([entry(4, "team-a"), entry(1, "team-a")]);
    expect((await audit.recent({ limit: 2 })).map((e) => e.correlationId)).toEqual(["c-4", "c-3"]);
    expect(await redis.xlen(`${prefix}:audit`)).toBe(4);
  });

  it("records a queued command's entry only if its job is stored when the entry's write runs", async () => {
    const prefix = uniquePrefix("audit");
    const audit = new RedisAuditLog(redis, prefix);
    const job = `${prefix}:commands:d-1`;
    // Sent ahead of the job's write: nothing is recorded, and the caller is told so.
    expect(await audit.recordIfStored(entry(1, "team-a"), job)).toBe(false);
    expect(await redis.exists(`${prefix}:audit`, `${prefix}:audit:lab:team-a`)).toBe(0);
    // In one write behind the job's, as the queue sends them: recorded in both streams.
    const [, recorded] = await Promise.all([
      redis.hset(job, "name", "lab.status"),
      audit.recordIfStored(entry(2, "team-a"), job),
    ]);
    expect(recorded).toBe(true);
    expect(await audit.recent({ lab: "team-a" })).toEqual([entry(2, "team-a")]);
    expect(await audit.recent()).toEqual([entry(2, "team-a")]);
  });
});

describe("RedisConversationReferenceStore", () => {
  it("keeps a conversation reference for other processes", async () => {
    const refs = new RedisConversationReferenceStore(redis, uniquePrefix("conv"));
    const reference = { serviceUrl: "http://x/amer/", conversation: { id: "19:a@thread.tacv2" } };
    await refs.save("teams:t:19:a@thread.tacv2", reference);
    expect(await refs.get("teams:t:19:a@thread.tacv2")).toEqual(reference);
    expect(await refs.get("teams:t:other")).toBeUndefined();
  });
});
