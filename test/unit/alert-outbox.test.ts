import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.ts";
import type { ThreadRef } from "../../src/ports/chat.ts";
import { AlertOutbox, LeaseLostError, WAIT } from "../../src/watcher/alert-outbox.ts";
import { watcherSettings } from "../../src/watcher/settings.ts";
import { ManualClock } from "../fakes/clock.ts";
import { MemoryLeases } from "../fakes/leases.ts";
import { MemoryWatchStateStore } from "../fakes/watcher.ts";

/**
 * The one claim -> post -> mark path every watcher alert takes: said once,
 * tried again with back-off after a failure (never before it is due),
 * dropped after its last attempt, and silent once the lease is gone. Time is
 * whatever the test says it is.
 */

const THREAD: ThreadRef = {
  address: { platform: "slack", tenant: "T1", channel: "C1" },
  threadId: "1.1",
  cardId: "1.1",
};

function outbox() {
  const clock = new ManualClock();
  const leases = new MemoryLeases(clock);
  leases.hand("team-u", "me", 24 * 3_600_000);
  const store = new MemoryWatchStateStore(leases);
  const box = new AlertOutbox({
    lab: "team-u",
    holder: "me",
    store,
    // First retry after 75 ms (equal jitter at 0.5 of a 100 ms cap), doubling to 1 s at most.
    settings: watcherSettings(clock, { retryInitialMs: 100, retryMaxMs: 1_000 }),
    random: () => 0.5,
    log: createLogger({ level: "silent" }),
  });
  return { clock, leases, store, box };
}

describe("the alert outbox", () => {
  it("posts an alert once; asked again, it says where it went", async () => {
    const { clock, store, box } = outbox();
    let posts = 0;
    const post = async () => {
      posts += 1;
      return THREAD;
    };
    expect(await box.send("a:done", clock.now(), post)).toEqual({ thread: THREAD, postedNow: true });
    expect(await box.send("a:done", clock.now(), post)).toEqual({ thread: THREAD, postedNow: false });
    expect(posts).toBe(1);
    expect(store.peekAlert("team-u", "a:done")).toEqual({ posted: true, thread: THREAD });
  });

  it("tries a failed post again once its back-off is over, not before", async () => {
    const { clock, store, box } = outbox();
    let failures = 1;
    const post = async () => {
      if (failures-- > 0) throw new Error("slack is down");
      return THREAD;
    };
    const t0 = clock.now();
    expect(await box.send("a:stuck:ready", t0, post)).toBeUndefined();
    const claims = store.claims;
    expect(await box.send("a:stuck:ready", t0 + 74, post)).toBeUndefined();
    expect(store.claims).toBe(claims);
    expect(await box.send("a:stuck:ready", t0 + 75, post)).toEqual({ thread: THREAD, postedNow: true });
  });

  it("drops an alert the chat keeps refusing, after its last attempt", async () => {
    const { clock, store, box } = outbox();
    let posts = 0;
    const post = async (): Promise<ThreadRef> => {
      posts += 1;
      throw new Error("channel archived");
    };
    let said: Awaited<ReturnType<typeof box.send>>;
    for (let i = 0; i < 20; i++) {
      said = await box.send("restarts:1", clock.now(), post);
      if (said) break;
      await clock.advance(1_000);
    }
    expect(posts).toBe(8);
    expect(said).toEqual({ thread: undefined, postedNow: false });
    expect(store.peekAlert("team-u", "restarts:1")).toEqual({ posted: true });
  });

  it("counts nothing while a post waits, and tries a last word only once", async () => {
    const { clock, box } = outbox();
    let calls = 0;
    expect(
      await box.send("a:done", clock.now(), async () => {
        calls += 1;
        return WAIT;
      }),
    ).toBeUndefined();
    expect(await box.send("a:done", clock.now(), async () => THREAD)).toEqual({
      thread: THREAD,
      postedNow: true,
    });
    expect(calls).toBe(1);
    const refused = async (): Promise<ThreadRef> => {
      throw new Error("slack is down");
    };
    expect(await box.send("a:given_up", clock.now(), refused, { once: true })).toBeUndefined();
  });

  it("stops at the claim when the lease went to another replica", async () => {
    const { clock, leases, box } = outbox();
    leases.hand("team-u", "someone-else", 24 * 3_600_000);
    let posts = 0;
    await expect(
      box.send("a:done", clock.now(), async () => {
        posts += 1;
        return THREAD;
      }),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect(posts).toBe(0);
  });
});
