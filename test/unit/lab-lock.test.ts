import { describe, expect, it } from "vitest";
import { withLabLock } from "../../jobs/processors/lab-lock.ts";
import type { Leases } from "../../src/ports/leases.ts";
import { ManualClock } from "../fakes/clock.ts";

/** A lab lock held by `holder` until released; counts renewals. */
function heldLocks(initial?: string): Leases & { renewals: number; held: string | undefined } {
  const locks = {
    held: initial,
    renewals: 0,
    async acquire(_lab: string, holder: string) {
      if (locks.held !== undefined && locks.held !== holder) return false;
      locks.held = holder;
      return true;
    },
    async renew(_lab: string, holder: string) {
      locks.renewals += 1;
      return locks.held === holder;
    },
    async release(_lab: string, holder: string) {
      if (locks.held === holder) locks.held = undefined;
    },
    async holder() {
      return locks.held;
    },
  };
  return locks;
}

const settings = { lockTtlMs: 3_000 };

describe("withLabLock on the injected clock", () => {
  it("waits for a busy lab, then gives up after fifteen seconds naming the holder", async () => {
    const clock = new ManualClock();
    const locks = heldLocks("job-other");
    const deps = { clock, locks, settings };
    let settled: unknown;
    const result = withLabLock(deps, "a", "job-me", new AbortController().signal, async () => 1).then((r) => {
      settled = r;
    });
    await clock.advance(14_000);
    expect(settled).toBeUndefined();
    await clock.advance(1_500);
    await result;
    expect(settled).toEqual({ locked: false, holder: "job-other" });
  });

  it("takes the lab once it is released, renews it every third of its lifetime, and lets it go", async () => {
    const clock = new ManualClock();
    const locks = heldLocks("job-other");
    const deps = { clock, locks, settings };
    const work = Promise.withResolvers<string>();
    const result = withLabLock(deps, "a", "job-me", new AbortController().signal, () => work.promise);
    await clock.advance(1_000);
    locks.held = undefined;
    await clock.advance(250);
    expect(locks.held).toBe("job-me");
    await clock.advance(3_000);
    expect(locks.renewals).toBe(3);
    work.resolve("done");
    expect(await result).toEqual({ locked: true, value: "done" });
    expect(locks.held).toBeUndefined();
    await clock.advance(3_000);
    expect(locks.renewals).toBe(3);
    expect(clock.pending).toBe(0);
  });
});
