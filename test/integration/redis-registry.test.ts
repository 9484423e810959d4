import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisLeases } from "../../adapters/redis/leases.ts";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import { REDIS_URL, uniquePrefix } from "../helpers/env.ts";

const redis = new Redis(REDIS_URL);
afterAll(() => redis.disconnect());

function lab(name: string): LabRecord {
  return {
    name,
    state: "creating",
    owner: { platform: "slack", id: "U1" },
    address: { platform: "slack", tenant: "T1", channel: "C1" },
    location: "centralus",
    createdAt: 1,
    updatedAt: 1,
    expiresAt: 2,
    outputs: {},
  };
}

describe("RedisLabRegistry", () => {
  it("creates once, lists, and keeps concurrent updates", async () => {
    const registry = new RedisLabRegistry(redis, uniquePrefix("reg"));
    expect(await registry.create(lab("team-a"))).toBe(true);
    expect(await registry.create(lab("team-a"))).toBe(false);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        registry.update("team-a", (r) => ({ ...r, outputs: { ...r.outputs, [`k${i}`]: String(i) } })),
      ),
    );
    const stored = await registry.get("team-a");
    expect(Object.keys(stored?.outputs ?? {})).toHaveLength(10);
    expect((await registry.list()).map((r) => r.name)).toEqual(["team-a"]);
    expect(await registry.update("missing", (r) => r)).toBeUndefined();
    await registry.delete("team-a");
    expect(await registry.get("team-a")).toBeUndefined();
    expect(await registry.list()).toEqual([]);
  });
});

describe("RedisLeases (the lab lock)", () => {
  it("admits one holder at a time, renews only for the holder, and expires", async () => {
    const locks = new RedisLeases(redis, uniquePrefix("lock"), "lock:lab");
    expect(await locks.acquire("team-a", "job-1", 5_000)).toBe(true);
    expect(await locks.acquire("team-a", "job-2", 5_000)).toBe(false);
    expect(await locks.acquire("team-a", "job-1", 5_000)).toBe(true);
    expect(await locks.renew("team-a", "job-2", 5_000)).toBe(false);
    expect(await locks.holder("team-a")).toBe("job-1");
    await locks.release("team-a", "job-2");
    expect(await locks.holder("team-a")).toBe("job-1");
    await locks.release("team-a", "job-1");
    expect(await locks.holder("team-a")).toBeUndefined();
    expect(await locks.acquire("team-b", "job-3", 50)).toBe(true);
    await new Promise((r) => setTimeout(r, 120));
    expect(await locks.acquire("team-b", "job-4", 5_000)).toBe(true);
  });
});
