import { describe, expect, it } from "vitest";
import type { ThreadRef } from "../../src/ports/chat.ts";
import type { Leases } from "../../src/ports/leases.ts";
import type { LabWatchState, WatchStateStore } from "../../src/ports/watcher.ts";

export interface WatchStateHarness {
  store: WatchStateStore;
  /** The watcher's leases, one per lab named after it, which fence the store. */
  leases: Leases;
  /** Lets `ms` pass on the clock the leases lapse on. */
  elapse(ms: number): Promise<void>;
}

const LONG = 60_000;

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

/**
 * What every WatchStateStore keeps, as the rotation watcher relies on it:
 * writes fenced by the lab's lease (a replica that lost it, or let it lapse,
 * cannot overwrite its successor or claim an alert), alerts said once, an
 * alert its dead claimant never posted claimable by the next holder, and a
 * lab's destroy forgetting all of it.
 */
export function watchStateStoreContract(
  name: string,
  setup: () => Promise<WatchStateHarness> | WatchStateHarness,
): void {
  describe(`WatchStateStore contract: ${name}`, () => {
    it("saves state only for the lease holder", async () => {
      const { store, leases } = await setup();
      await leases.acquire("lab-c", "r1", LONG);
      expect(await store.save(state("lab-c", { color: "v1" }), "r1")).toBe(true);
      expect(await store.save(state("lab-c", { color: "stale" }), "r2")).toBe(false);
      expect((await store.load("lab-c"))?.versions).toEqual({ color: "v1" });
      await store.delete("lab-c");
      expect(await store.load("lab-c")).toBeUndefined();
    });

    it("writes nothing for a lab whose lease nobody holds", async () => {
      const { store, leases } = await setup();
      expect(await store.load("lab-n")).toBeUndefined();
      expect(await store.save(state("lab-n"), "r1")).toBe(false);
      expect(await store.load("lab-n")).toBeUndefined();
      expect(await store.claimAlert("lab-n", "t1:done", "r1")).toEqual({ outcome: "lease_lost" });
      // Another lab's lease fences nothing here.
      await leases.acquire("lab-m", "r1", LONG);
      expect(await store.save(state("lab-n"), "r1")).toBe(false);
    });

    it("fences out a holder whose lease lapsed", async () => {
      const h = await setup();
      await h.leases.acquire("lab-l", "r1", 100);
      expect(await h.store.save(state("lab-l", { color: "v1" }), "r1")).toBe(true);
      await h.elapse(300);
      expect(await h.store.save(state("lab-l", { color: "late" }), "r1")).toBe(false);
      expect(await h.store.claimAlert("lab-l", "t1:done", "r1")).toEqual({ outcome: "lease_lost" });
      expect((await h.store.load("lab-l"))?.versions).toEqual({ color: "v1" });
      await h.leases.acquire("lab-l", "r2", LONG);
      expect(await h.store.save(state("lab-l", { color: "v2" }), "r2")).toBe(true);
      expect((await h.store.load("lab-l"))?.versions).toEqual({ color: "v2" });
    });

    it("gives back the state as saved, as a copy", async () => {
      const { store, leases } = await setup();
      await leases.acquire("lab-s", "r1", LONG);
      const full: LabWatchState = {
        ...state("lab-s", { color: "v2", size: "v1" }),
        traces: [
          {
            id: "lab-s/color/v2",
            lab: "lab-s",
            secret: "color",
            version: "v2",
            previousVersion: "v1",
            setAt: 1_000,
            changedBy: "slack:U1",
            podsBefore: ["old-1", "old-2"],
            replicaSetBefore: "rs-old",
            correlationId: "c-1",
            hops: { synced: 1_500, reloaded: 1_600 },
            newPods: { "new-1": { readyAt: 2_000, restarts: 0 } },
            thread,
          },
        ],
        finished: ["lab-s/color/v1"],
        restartBaseline: { "old-1": 2 },
        restarts: { openedAt: 5, thread, pods: { "old-1": { restarts: 3, reason: "OOMKilled" } }, lastAt: 6 },
        updatedAt: 7,
      };
      expect(await store.save(full, "r1")).toBe(true);
      const loaded = await store.load("lab-s");
      expect(loaded).toEqual(full);
      if (loaded) loaded.versions.color = "changed";
      full.versions.color = "changed too";
      expect((await store.load("lab-s"))?.versions.color).toBe("v2");
    });

    it("claims an alert for the holder; once posted, nobody posts it again", async () => {
      const { store, leases } = await setup();
      await leases.acquire("lab-d", "r1", LONG);
      expect(await store.claimAlert("lab-d", "t1:done", "r2")).toEqual({ outcome: "lease_lost" });
      expect(await store.claimAlert("lab-d", "t1:done", "r1")).toEqual({ outcome: "claimed" });
      await store.markPosted("lab-d", "t1:done", thread);
      expect(await store.claimAlert("lab-d", "t1:done", "r1")).toEqual({ outcome: "posted", thread });
      // The next holder sees it posted too.
      await leases.release("lab-d", "r1");
      await leases.acquire("lab-d", "r2", LONG);
      expect(await store.claimAlert("lab-d", "t1:done", "r2")).toEqual({ outcome: "posted", thread });
    });

    it("lets the next holder post an alert its dead predecessor claimed but never posted", async () => {
      const { store, leases } = await setup();
      await leases.acquire("lab-e", "r1", LONG);
      expect(await store.claimAlert("lab-e", "t2:done", "r1")).toEqual({ outcome: "claimed" });
      await leases.release("lab-e", "r1");
      await leases.acquire("lab-e", "r2", LONG);
      expect(await store.claimAlert("lab-e", "t2:done", "r2")).toEqual({ outcome: "claimed" });
    });

    it("lets the holder claim again an alert whose post failed, and keeps alerts per lab", async () => {
      const { store, leases } = await setup();
      await leases.acquire("lab-f", "r1", LONG);
      await leases.acquire("lab-g", "r1", LONG);
      expect(await store.claimAlert("lab-f", "t3:stuck", "r1")).toEqual({ outcome: "claimed" });
      expect(await store.claimAlert("lab-f", "t3:stuck", "r1")).toEqual({ outcome: "claimed" });
      await store.markPosted("lab-f", "t3:stuck", undefined);
      expect(await store.claimAlert("lab-f", "t3:stuck", "r1")).toEqual({
        outcome: "posted",
        thread: undefined,
      });
      expect(await store.claimAlert("lab-g", "t3:stuck", "r1")).toEqual({ outcome: "claimed" });
    });

    it("records a post whoever holds the lease: once said, it is a fact", async () => {
      const { store, leases } = await setup();
      await store.markPosted("lab-h", "t4:done", thread);
      await leases.acquire("lab-h", "r2", LONG);
      expect(await store.claimAlert("lab-h", "t4:done", "r2")).toEqual({ outcome: "posted", thread });
    });

    it("forgets a lab's state and alerts on delete, and only that lab's", async () => {
      const { store, leases } = await setup();
      for (const lab of ["team", "team-a"]) {
        await leases.acquire(lab, "r1", LONG);
        expect(await store.save(state(lab, { color: lab }), "r1")).toBe(true);
        expect(await store.claimAlert(lab, "t5:done", "r1")).toEqual({ outcome: "claimed" });
        await store.markPosted(lab, "t5:done", thread);
      }
      await store.delete("team");
      await store.delete("never-was");
      expect(await store.load("team")).toBeUndefined();
      expect(await store.claimAlert("team", "t5:done", "r1")).toEqual({ outcome: "claimed" });
      expect((await store.load("team-a"))?.versions).toEqual({ color: "team-a" });
      expect(await store.claimAlert("team-a", "t5:done", "r1")).toEqual({ outcome: "posted", thread });
    });
  });
}
