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
