import { describe, expect, it } from "vitest";
import type { Leases } from "../../src/ports/leases.ts";

export interface LeasesHarness {
  /** The leases under test (the lab lock's namespace). */
  leases: Leases;
  /** Another namespace over the same store (the watcher's). */
  other: Leases;
  /** Lets `ms` pass on the clock the leases lapse on (Redis's own, or the fake's). */
  elapse(ms: number): Promise<void>;
}

/** Long enough never to lapse during a test. */
const LONG = 60_000;

/**
 * What every Leases keeps, as the lab lock (jobs/processors/lab-create.ts) and
 * the rotation watcher (src/watcher/rotation-watcher.ts) rely on it: one holder
 * at a time, renewed and released only by it, lapsing when not renewed. Waits
 * are short and margins wide (a few hundred ms), since Redis lapses on its own clock.
 */
export function leasesContract(name: string, setup: () => Promise<LeasesHarness> | LeasesHarness): void {
  describe(`Leases contract: ${name}`, () => {
    it("admits one holder at a time, renews only for the holder, and is released only by it", async () => {
      const { leases } = await setup();
      expect(await leases.acquire("team-a", "job-1", LONG)).toBe(true);
      expect(await leases.acquire("team-a", "job-2", LONG)).toBe(false);
      expect(await leases.acquire("team-a", "job-1", LONG)).toBe(true);
      expect(await leases.renew("team-a", "job-2", LONG)).toBe(false);
      expect(await leases.holder("team-a")).toBe("job-1");
      await leases.release("team-a", "job-2");
      expect(await leases.holder("team-a")).toBe("job-1");
      expect(await leases.renew("team-a", "job-1", LONG)).toBe(true);
      await leases.release("team-a", "job-1");
      expect(await leases.holder("team-a")).toBeUndefined();
      expect(await leases.renew("team-a", "job-1", LONG)).toBe(false);
      expect(await leases.acquire("team-a", "job-2", LONG)).toBe(true);
      expect(await leases.holder("team-a")).toBe("job-2");
    });

    it("keeps names apart, and releasing a free lease changes nothing", async () => {
      const { leases } = await setup();
      await leases.release("team-x", "job-1");
      expect(await leases.holder("team-x")).toBeUndefined();
      expect(await leases.acquire("team-a", "job-1", LONG)).toBe(true);
      expect(await leases.acquire("team-b", "job-2", LONG)).toBe(true);
      await leases.release("team-a", "job-1");
      expect(await leases.holder("team-a")).toBeUndefined();
      expect(await leases.holder("team-b")).toBe("job-2");
    });

    it("keeps each namespace apart (the lab lock and the watcher's lease of the same lab)", async () => {
      const { leases, other } = await setup();
      expect(await leases.acquire("team-a", "job-1", LONG)).toBe(true);
      expect(await other.acquire("team-a", "watcher-1", LONG)).toBe(true);
      expect(await other.holder("team-a")).toBe("watcher-1");
      await leases.release("team-a", "job-1");
      expect(await other.holder("team-a")).toBe("watcher-1");
      expect(await other.renew("team-a", "watcher-1", LONG)).toBe(true);
    });

    it("gives a contested lease to exactly one of many at once", async () => {
      const { leases } = await setup();
      const holders = Array.from({ length: 10 }, (_, i) => `replica-${i}`);
      const won = await Promise.all(holders.map((h) => leases.acquire("team-a", h, LONG)));
      expect(won.filter(Boolean)).toHaveLength(1);
      expect(await leases.holder("team-a")).toBe(holders[won.indexOf(true)]);
    });

    it("lapses when not renewed: the next holder takes it and the old one cannot renew or release it", async () => {
      const h = await setup();
      expect(await h.leases.acquire("team-b", "job-3", 100)).toBe(true);
      await h.elapse(300);
      expect(await h.leases.holder("team-b")).toBeUndefined();
      expect(await h.leases.renew("team-b", "job-3", LONG)).toBe(false);
      expect(await h.leases.holder("team-b")).toBeUndefined();
      expect(await h.leases.acquire("team-b", "job-4", LONG)).toBe(true);
      expect(await h.leases.renew("team-b", "job-3", LONG)).toBe(false);
      await h.leases.release("team-b", "job-3");
      expect(await h.leases.holder("team-b")).toBe("job-4");
    });

    it("extends the holder's lease from now, on renew and on acquire again", async () => {
      const h = await setup();
      expect(await h.leases.acquire("team-c", "r1", 1_000)).toBe(true);
      await h.elapse(600);
      expect(await h.leases.acquire("team-c", "r1", 1_000)).toBe(true);
      await h.elapse(600);
      // 1 200 ms after the first acquire: alive only because the second extended it.
      expect(await h.leases.holder("team-c")).toBe("r1");
      expect(await h.leases.renew("team-c", "r1", 1_000)).toBe(true);
      await h.elapse(600);
      expect(await h.leases.holder("team-c")).toBe("r1");
      await h.elapse(700);
      expect(await h.leases.holder("team-c")).toBeUndefined();
    });

    it("takes a ttl that is not a whole number of milliseconds (a scaled one)", async () => {
      const { leases } = await setup();
      expect(await leases.acquire("team-d", "r1", 20_000 / 3)).toBe(true);
      expect(await leases.renew("team-d", "r1", 60_000 / 7)).toBe(true);
      expect(await leases.holder("team-d")).toBe("r1");
    });
  });
}
