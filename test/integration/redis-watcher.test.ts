import { Redis } from "ioredis";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { RedisLeases } from "../../adapters/redis/leases.ts";
import { RedisRotationThreads, RedisWatchStateStore } from "../../adapters/redis/watcher.ts";
import type { ThreadRef } from "../../src/ports/chat.ts";
import type { LabWatchState } from "../../src/ports/watcher.ts";
import { REDIS_URL, uniquePrefix, waitFor } from "../helpers/env.ts";

/** The watcher's Redis state: leases, lease-fenced saves, alert claims, rotate threads and their nudges. */
describe("the watcher's Redis adapters", () => {
  const redis = new Redis(REDIS_URL);
  let prefix: string;
  let leases: RedisLeases;
  let store: RedisWatchStateStore;
  let threads: RedisRotationThreads;

  const state = (lab: string, versions: Record<string, string> = {}): LabWatchState => ({
    schema: 1,
    lab,
    baselined: true,
    versions,
    traces: [],
    finished: [],
    restartBaseline: {},
    restarts: undefined,
    updatedAt: 1,
  });
  const thread: ThreadRef = {
    address: { platform: "slack", tenant: "T1", channel: "C1" },
    threadId: "1.2",
    cardId: "1.2",
  };

  beforeEach(() => {
    prefix = uniquePrefix("watch");
    leases = new RedisLeases(redis, prefix, "watch:lease");
    store = new RedisWatchStateStore(redis, prefix);
    threads = new RedisRotationThreads(redis, prefix);
  });

  afterAll(async () => {
    const keys = await redis.keys("lt-watch-*");
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it("gives a lease to one holder at a time, renewed and released only by it", async () => {
    expect(await leases.acquire("lab-a", "r1", 5_000)).toBe(true);
    expect(await leases.acquire("lab-a", "r2", 5_000)).toBe(false);
    expect(await leases.renew("lab-a", "r2", 5_000)).toBe(false);
    await leases.release("lab-a", "r2");
    expect(await leases.holder("lab-a")).toBe("r1");
    expect(await leases.renew("lab-a", "r1", 5_000)).toBe(true);
    await leases.release("lab-a", "r1");
    expect(await leases.acquire("lab-a", "r2", 5_000)).toBe(true);
  });

  it("lets a lapsed lease go to the next replica", async () => {
    expect(await leases.acquire("lab-b", "r1", 50)).toBe(true);
    await waitFor(async () => ((await leases.holder("lab-b")) === undefined ? true : undefined), "the lapse");
    expect(await leases.acquire("lab-b", "r2", 5_000)).toBe(true);
    expect(await leases.renew("lab-b", "r1", 5_000)).toBe(false);
  });

  it("saves state only for the lease holder", async () => {
    await leases.acquire("lab-c", "r1", 5_000);
    expect(await store.save(state("lab-c", { color: "v1" }), "r1")).toBe(true);
    expect(await store.save(state("lab-c", { color: "stale" }), "r2")).toBe(false);
    expect((await store.load("lab-c"))?.versions).toEqual({ color: "v1" });
    await store.delete("lab-c");
    expect(await store.load("lab-c")).toBeUndefined();
  });

  it("claims an alert for the holder; once posted, nobody posts it again", async () => {
    await leases.acquire("lab-d", "r1", 5_000);
    expect(await store.claimAlert("lab-d", "t1:done", "r2")).toEqual({ outcome: "lease_lost" });
    expect(await store.claimAlert("lab-d", "t1:done", "r1")).toEqual({ outcome: "claimed" });
    await store.markPosted("lab-d", "t1:done", thread);
    expect(await store.claimAlert("lab-d", "t1:done", "r1")).toEqual({ outcome: "posted", thread });
    // The next holder sees it posted too.
    await leases.release("lab-d", "r1");
    await leases.acquire("lab-d", "r2", 5_000);
    expect(await store.claimAlert("lab-d", "t1:done", "r2")).toEqual({ outcome: "posted", thread });
  });

  it("lets the next holder post an alert its dead predecessor claimed but never posted", async () => {
    await leases.acquire("lab-e", "r1", 5_000);
    expect(await store.claimAlert("lab-e", "t2:done", "r1")).toEqual({ outcome: "claimed" });
    await leases.release("lab-e", "r1");
    await leases.acquire("lab-e", "r2", 5_000);
    expect(await store.claimAlert("lab-e", "t2:done", "r2")).toEqual({ outcome: "claimed" });
  });

  it("finds a rotate command's thread and tells subscribers which lab has news", async () => {
    const heard: string[] = [];
    const unsubscribe = await threads.subscribe((lab) => heard.push(lab));
    try {
      await threads.register({
        lab: "lab-f",
        secret: "color",
        version: "abc123",
        thread,
        card: { title: "Rotation: color in lab-f", status: "running" },
        by: "ada",
        correlationId: "c-1",
        writtenAt: 1_000,
      });
      expect((await threads.find("lab-f", "color", "abc123"))?.by).toBe("ada");
      expect(await threads.find("lab-f", "color", "other")).toBeUndefined();
      await waitFor(() => (heard.includes("lab-f") ? true : undefined), "the nudge");
    } finally {
      await unsubscribe();
    }
  });
});
