import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisAuditLog } from "../../adapters/redis/audit.ts";
import { RedisConfirmationStore } from "../../adapters/redis/confirmations.ts";
import { RedisConversationReferenceStore } from "../../adapters/redis/conversations.ts";
import { RedisDeliveryLog } from "../../adapters/redis/deliveries.ts";
import { pendingDestroy } from "../../src/commands/confirmation.ts";
import type { AuditEntry } from "../../src/ports/audit.ts";
import type { ChatAddress, ChatUser } from "../../src/ports/chat.ts";
import { REDIS_URL, uniquePrefix } from "../helpers/env.ts";

const redis = new Redis(REDIS_URL);
afterAll(() => redis.disconnect());

const address: ChatAddress = { platform: "slack", tenant: "T1", channel: "C1" };
const ada: ChatUser = { platform: "slack", id: "U1", name: "ada" };

describe("RedisAuditLog", () => {
  const entry = (n: number, lab?: string): AuditEntry => ({
    at: 1_000 + n,
    correlationId: `c-${n}`,
    deliveryId: `d-${n}`,
    platform: "slack",
    tenant: "T1",
    channel: "C1",
    userId: "U1",
    userName: "ada",
    command: lab ? `lab destroy ${lab}` : "lab list",
    kind: lab ? "lab.destroy" : "lab.list",
    result: "queued",
    ...(lab ? { lab, jobId: `j-${n}` } : {}),
  });

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

describe("RedisConfirmationStore", () => {
  it("gives a confirmation once, to its own user only", async () => {
    const store = new RedisConfirmationStore(redis, uniquePrefix("confirm"), { now: () => Date.now() });
    const pending = pendingDestroy({
      command: { kind: "lab.destroy", lab: "team-a", confirmed: false },
      user: ada,
      address,
      correlationId: "c-1",
      now: Date.now(),
    });
    await store.create(pending);
    expect(await store.consume(pending.id, { platform: "slack", id: "U2" })).toEqual({
      ok: false,
      reason: "other_user",
    });
    expect(await store.consume(pending.id, { platform: "teams", id: "U1" })).toEqual({
      ok: false,
      reason: "other_user",
    });
    const taken = await store.consume(pending.id, ada);
    expect(taken).toEqual({ ok: true, confirmation: pending });
    expect(await store.consume(pending.id, ada)).toEqual({ ok: false, reason: "unknown" });
  });

  it("lets only one of two simultaneous presses through", async () => {
    const store = new RedisConfirmationStore(redis, uniquePrefix("confirm"), { now: () => Date.now() });
    const pending = pendingDestroy({
      command: { kind: "lab.destroy", lab: "team-a", confirmed: false },
      user: ada,
      address,
      correlationId: "c-1",
      now: Date.now(),
    });
    await store.create(pending);
    const results = await Promise.all(Array.from({ length: 5 }, () => store.consume(pending.id, ada)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });
});

describe("RedisDeliveryLog and RedisConversationReferenceStore", () => {
  it("claims a delivery once until released", async () => {
    const log = new RedisDeliveryLog(redis, uniquePrefix("seen"));
    expect(await log.claim("slack.T1.Ev1", 60_000)).toBe(true);
    expect(await log.claim("slack.T1.Ev1", 60_000)).toBe(false);
    await log.release("slack.T1.Ev1");
    expect(await log.claim("slack.T1.Ev1", 60_000)).toBe(true);
  });

  it("keeps a conversation reference for other processes", async () => {
    const refs = new RedisConversationReferenceStore(redis, uniquePrefix("conv"));
    const reference = { serviceUrl: "http://x/amer/", conversation: { id: "19:a@thread.tacv2" } };
    await refs.save("teams:t:19:a@thread.tacv2", reference);
    expect(await refs.get("teams:t:19:a@thread.tacv2")).toEqual(reference);
    expect(await refs.get("teams:t:other")).toBeUndefined();
  });
});
