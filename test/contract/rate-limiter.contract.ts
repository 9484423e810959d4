import { describe, expect, it } from "vitest";
import type { RateLimiter } from "../../src/ports/rate.ts";

/**
 * What every RateLimiter does. Waits are computed, not waited for; the Redis
 * limiter runs on Redis's clock, so its waits shrink by the few milliseconds
 * between calls: bounds allow for that.
 */
export function rateLimiterContract(name: string, make: () => Promise<RateLimiter> | RateLimiter): void {
  const close = (wait: number, expected: number) => {
    expect(wait).toBeGreaterThan(expected - 250);
    expect(wait).toBeLessThanOrEqual(expected);
  };

  describe(`RateLimiter contract: ${name}`, () => {
    it("spaces calls under one key one window apart, first come first served", async () => {
      const limiter = await make();
      const one = [{ key: "post:C1", windows: [{ windowMs: 1_000, max: 1 }] }];
      expect(await limiter.reserve(one)).toBe(0);
      close(await limiter.reserve(one), 1_000);
      close(await limiter.reserve(one), 2_000);
    });

    it("honours every window of a key at once", async () => {
      const limiter = await make();
      const teams = [
        {
          key: "conv:19",
          windows: [
            { windowMs: 1_000, max: 7 },
            { windowMs: 2_000, max: 8 },
          ],
        },
      ];
      const waits: number[] = [];
      for (let i = 0; i < 10; i++) waits.push(await limiter.reserve(teams));
      for (const w of waits.slice(0, 7)) expect(w).toBeLessThan(250);
      close(waits[7] ?? -1, 1_000);
      close(waits[8] ?? -1, 2_000);
      close(waits[9] ?? -1, 2_000);
    });

    it("reserves an operation under all its keys at the same slot", async () => {
      const limiter = await make();
      const a = { key: "msg:A", windows: [{ windowMs: 1_000, max: 1 }] };
      const b = { key: "tier3", windows: [{ windowMs: 1_000, max: 1 }] };
      expect(await limiter.reserve([a])).toBe(0);
      close(await limiter.reserve([a, b]), 1_000);
      // b's slot was taken at 1000 (not at 0, when b alone was free): the next b waits for 2000.
      close(await limiter.reserve([b]), 2_000);
    });

    it("keeps keys apart", async () => {
      const limiter = await make();
      const w = [{ windowMs: 60_000, max: 1 }];
      expect(await limiter.reserve([{ key: "x", windows: w }])).toBe(0);
      expect(await limiter.reserve([{ key: "y", windows: w }])).toBe(0);
    });

    it("holds a key back for a Retry-After", async () => {
      const limiter = await make();
      await limiter.block("blocked", 5_000);
      close(await limiter.reserve([{ key: "blocked", windows: [{ windowMs: 10, max: 100 }] }]), 5_000);
      expect(await limiter.reserve([{ key: "other", windows: [{ windowMs: 10, max: 100 }] }])).toBe(0);
    });
  });
}
