import { describe, expect, it } from "vitest";
import { costSoFar, formatHourly, formatMoney, labHourlyCost } from "../../src/labs/cost.ts";
import { PRICES, pricesFor, withOverrides } from "../../src/labs/prices.ts";

const LAB = { nodeCount: 2, vmSize: "Standard_B2s", tier: "Free" };

describe("lab cost", () => {
  it("adds the nodes, their disks, the tier, the load balancer, the IP and the vault", () => {
    const cost = labHourlyCost(LAB, "centralus", PRICES);
    expect(cost.lines.map((l) => l.item)).toEqual([
      "2 × Standard_B2s",
      "2 × OS disk",
      "AKS Free tier",
      "load balancer",
      "public IP",
      "Key Vault",
    ]);
    expect(cost.hourly).toBeCloseTo(2 * 0.0416 + 2 * 0.027 + 0 + 0.025 + 0.005 + 0, 10);
    expect(formatHourly(cost)).toBe("≈ $0.17/h");
    expect(cost.unpriced).toEqual([]);
  });

  it("scales with the node count and the tier", () => {
    const one = labHourlyCost({ ...LAB, nodeCount: 1 }, "centralus", PRICES).hourly;
    const two = labHourlyCost(LAB, "centralus", PRICES).hourly;
    expect(two - one).toBeCloseTo(0.0416 + 0.027, 10);
    const standard = labHourlyCost({ ...LAB, tier: "Standard" }, "centralus", PRICES).hourly;
    expect(standard - two).toBeCloseTo(0.1, 10);
  });

  it("takes per-location overrides and keeps the default elsewhere", () => {
    const book = withOverrides(PRICES, { WestEurope: { vm: { Standard_B2s: 0.05 }, loadBalancer: 0.03 } });
    expect(pricesFor(book, "westeurope").vm.Standard_B2s).toBe(0.05);
    expect(pricesFor(book, "westeurope").vm.Standard_D2s_v5).toBe(0.096);
    expect(labHourlyCost(LAB, "westeurope", book).hourly).toBeCloseTo(
      2 * 0.05 + 2 * 0.027 + 0.03 + 0.005,
      10,
    );
    expect(labHourlyCost(LAB, "centralus", book).hourly).toBeCloseTo(
      labHourlyCost(LAB, "centralus", PRICES).hourly,
      10,
    );
  });

  it("names what it has no price for instead of guessing", () => {
    const cost = labHourlyCost({ ...LAB, vmSize: "Standard_Z9" }, "centralus", PRICES);
    expect(cost.unpriced).toEqual(["Standard_Z9"]);
    expect(formatHourly(cost)).toMatch(/\+ Standard_Z9 \(no price\)$/);
  });

  it("counts the cost so far in Azure's time", () => {
    const cost = labHourlyCost(LAB, "centralus", PRICES);
    expect(costSoFar(cost, 0, 3 * 3_600_000)).toBeCloseTo(3 * cost.hourly, 10);
    expect(costSoFar(cost, 0, 6 * 60_000, 10)).toBeCloseTo(cost.hourly, 10);
    expect(formatMoney(0.004)).toBe("$0.0040");
    expect(formatMoney(12.5)).toBe("$12.50");
  });
});
