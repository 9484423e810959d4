import { describe, expect, it } from "vitest";
import { type ChaosOptions, type FaultDecision, FaultPlan } from "../../emulators/azure/faults.ts";
import { startAzureEmulator } from "../../emulators/azure/index.ts";
import { createIdSource } from "../../emulators/azure/random.ts";
import { manualClock } from "../../emulators/shared/clock.ts";
import { clientsFor, until } from "../integration/azure-emulator-helpers.ts";

function planWith(chaos: ChaosOptions): FaultPlan {
  const plan = new FaultPlan(createIdSource(1), (seed) => createIdSource(seed));
  plan.setChaos(chaos);
  return plan;
}

function draw(plan: FaultPlan, calls: number): (FaultDecision | undefined)[] {
  return Array.from({ length: calls }, (_, i) => plan.decide(i % 2 ? "vault" : "arm", "GET", `/x/${i}`));
}

describe("Azure emulator chaos mode: random latency", () => {
  it("delays the asked share of calls by a drawn while within [min, max], and counts it", () => {
    const plan = planWith({ rate: 0, seed: 42, latencyMs: [200, 800], latencyRate: 0.3 });
    const decisions = draw(plan, 2_000);
    const delayed = decisions.filter((d) => (d?.delayMs ?? 0) > 0);
    // 30% of 2000 calls, give or take what a fair draw allows.
    expect(delayed.length).toBeGreaterThan(500);
    expect(delayed.length).toBeLessThan(700);
    for (const d of delayed) {
      expect(d?.delayMs).toBeGreaterThanOrEqual(200);
      expect(d?.delayMs).toBeLessThanOrEqual(800);
      expect(d?.failure).toBeUndefined();
      expect(d?.source).toBe("chaos");
    }
    const spread = delayed.map((d) => d?.delayMs ?? 0);
    expect(Math.max(...spread) - Math.min(...spread)).toBeGreaterThan(400);
    const counts = plan.chaosCounts;
    expect(counts.failures).toBe(0);
    expect(counts.failuresByTarget).toEqual({ arm: 0, vault: 0, authority: 0 });
    expect(counts.delays).toBe(delayed.length);
    expect(counts.delayedMs).toBeCloseTo(
      spread.reduce((a, b) => a + b, 0),
      6,
    );
    expect(plan.injected).toBe(0);
  });

  it("replays the same failures and delays for the same seed", () => {
    const options: ChaosOptions = { rate: 0.15, seed: 9, latencyMs: [10, 500], latencyRate: 0.5 };
    const first = draw(planWith(options), 300);
    const again = draw(planWith(options), 300);
    expect(again).toEqual(first);
    expect(first.filter((d) => d?.failure).length).toBeGreaterThan(20);
    expect(first.filter((d) => d?.failure && d.delayMs > 0).length).toBeGreaterThan(0);
    const plan = planWith(options);
    const failed = draw(plan, 300).filter((d) => d?.failure).length;
    const { arm, vault, authority } = plan.chaosCounts.failuresByTarget;
    expect(arm + vault).toBe(failed);
    expect(arm).toBeGreaterThan(0);
    expect(vault).toBeGreaterThan(0);
    expect(authority).toBe(0);
    const other = draw(planWith({ ...options, seed: 10 }), 300);
    expect(other).not.toEqual(first);
  });

  it("leaves the token authority alone unless asked, and refuses nonsense", () => {
    const plan = planWith({ rate: 1, seed: 3, latencyMs: [100, 100] });
    expect(plan.decide("authority", "POST", "/t/oauth2/v2.0/token")).toBeUndefined();
    expect(plan.decide("arm", "GET", "/subscriptions")).toMatchObject({
      delayMs: 100,
      failure: { status: expect.any(Number) },
    });
    expect(() => planWith({ rate: 0, latencyMs: [500, 100] })).toThrow(RangeError);
    expect(() => planWith({ rate: 0, latencyMs: [-1, 100] })).toThrow(RangeError);
    expect(() => planWith({ rate: 0, latencyMs: [0, 100], latencyRate: 2 })).toThrow(RangeError);
  });

  it("holds a real SDK call back until the drawn emulated time has passed", async () => {
    const clock = manualClock();
    const emu = await startAzureEmulator({ clock, responseDelays: false, throttling: false });
    try {
      const { resources } = clientsFor(emu);
      await resources.resourceGroups.createOrUpdate("lab-rg-slow-chaos", { location: emu.location });
      emu.faults.setChaos({ rate: 0, seed: 5, latencyMs: [1_000, 1_000], targets: ["arm"] });
      let answered = false;
      const call = resources.resourceGroups.get("lab-rg-slow-chaos").then((g) => {
        answered = true;
        return g;
      });
      await until(() => emu.stats().chaos.delays === 1, "the call to be held back");
      await clock.advance(999);
      await new Promise((r) => setTimeout(r, 50));
      expect(answered).toBe(false);
      await clock.advance(1);
      expect((await call).name).toBe("lab-rg-slow-chaos");
      expect(emu.stats()).toMatchObject({ faultsInjected: 0, chaos: { failures: 0, delays: 1 } });
    } finally {
      await emu.stop();
    }
  });
});
