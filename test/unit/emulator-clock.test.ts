import { describe, expect, it } from "vitest";
import { emulatedTimeline, manualClock, scaledClock } from "../../emulators/shared/clock.ts";

describe("emulator clocks", () => {
  it("manual clock fires timers in order and only when advanced past them", async () => {
    const clock = manualClock(0);
    const fired: string[] = [];
    clock.schedule(300, () => fired.push("b"));
    clock.schedule(100, () => fired.push("a"));
    const slept = clock.sleep(500).then(() => fired.push("c"));
    await clock.advance(200);
    expect(fired).toEqual(["a"]);
    await clock.advance(400);
    await slept;
    expect(fired).toEqual(["a", "b", "c"]);
    expect(clock.now()).toBe(600);
    expect(clock.pending()).toBe(0);
  });

  it("manual clock sleep rejects when aborted and forgets its timer", async () => {
    const clock = manualClock(0);
    const ac = new AbortController();
    const p = clock.sleep(1000, ac.signal);
    ac.abort(new Error("stop"));
    await expect(p).rejects.toThrow("stop");
    expect(clock.pending()).toBe(0);
  });

  it("scaled clock divides emulated durations by the scale", async () => {
    const clock = scaledClock(1000);
    const start = performance.now();
    await clock.sleep(2000); // two emulated seconds
    const real = performance.now() - start;
    expect(real).toBeLessThan(500);
    expect(real).toBeGreaterThanOrEqual(1);
  });

  it("reads a scaled clock in emulated time, so timestamps keep emulated durations", async () => {
    const base = scaledClock(1000);
    const timeline = emulatedTimeline(base);
    const before = timeline.now();
    const realBefore = base.now();
    await timeline.sleep(20_000); // twenty emulated seconds, about 20 real ms
    const emulated = timeline.now() - before;
    const real = base.now() - realBefore;
    expect(emulated).toBeGreaterThanOrEqual(20_000);
    expect(emulated).toBeLessThanOrEqual((real + 2) * 1000);
    // At scale 1 (a manual clock in tests) the timeline is the clock itself.
    const manual = manualClock(0);
    expect(emulatedTimeline(manual)).toBe(manual);
  });

  it("refuses a scale that is not a positive number", () => {
    expect(() => scaledClock(0)).toThrow(/positive/);
    expect(() => scaledClock(Number.NaN)).toThrow(/positive/);
  });
});
