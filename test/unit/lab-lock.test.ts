import { describe, expect, it } from "vitest";
import { withLabLock } from "../../jobs/processors/lab-lock.ts";
import { ManualClock } from "../fakes/clock.ts";
import { MemoryLeases } from "../fakes/leases.ts";

/** Lab locks on the test's clock, lab "a" held by `initial` for an hour. */
function heldLocks(clock: ManualClock, initial: string): MemoryLeases {
  const locks = new MemoryLeases(clock);
  locks.hand("a", initial, 3_600_000);
  return locks;
}

const settings = { lockTtlMs: 3_000 };

describe("withLabLock on the injected clock", () => {
  it("waits for a busy lab, then gives up after fifteen seconds naming the holder", async () => {
    const clock = new ManualClock();
    const locks = heldLocks(clock, "job-other");
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
    const locks = heldLocks(clock, "job-other");
    const deps = { clock, locks, settings };
    const work = Promise.withResolvers<string>();
    const result = withLabLock(deps, "a", "job-me", new AbortController().signal, () => work.promise);
    await clock.advance(1_000);
    await locks.release("a", "job-other");
    await clock.advance(250);
    expect(locks.holderNow("a")).toBe("job-me");
    await clock.advance(3_000);
    expect(locks.renewals).toBe(3);
    work.resolve("done");
    expect(await result).toEqual({ locked: true, value: "done" });
    expect(locks.holderNow("a")).toBeUndefined();
    await clock.advance(3_000);
    expect(locks.renewals).toBe(3);
    expect(clock.pending).toBe(0);
  });
});
