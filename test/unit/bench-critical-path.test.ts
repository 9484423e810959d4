import { describe, expect, it } from "vitest";
import { criticalPath, labStepDurations, sequentialTotal } from "../../bench/lib/critical-path.ts";
import { percentile, summarize } from "../../bench/lib/stats.ts";
import { AZURE_LATENCY_PROFILE } from "../../emulators/azure/latency.ts";
import { DEFAULT_KUBELET_TIMING } from "../../emulators/kubernetes/controllers/kubelet.ts";
import { CREATE_STEPS } from "../../src/labs/create-plan.ts";

describe("critical path of a step graph", () => {
  it("follows the longest chain, not the most steps", () => {
    const steps = [
      { name: "a", dependsOn: [] },
      { name: "b", dependsOn: ["a"] },
      { name: "c", dependsOn: ["b"] },
      { name: "d", dependsOn: ["a"] },
      { name: "e", dependsOn: ["c", "d"] },
    ];
    const result = criticalPath(steps, { a: 1, b: 1, c: 1, d: 10, e: 2 });
    expect(result.totalMs).toBe(13);
    expect(result.path).toEqual(["a", "d", "e"]);
    expect(result.finishMs).toEqual({ a: 1, b: 2, c: 3, d: 11, e: 13 });
    expect(sequentialTotal(["a", "b", "c", "d", "e"], { a: 1, b: 1, c: 1, d: 10, e: 2 })).toBe(15);
  });

  it("refuses a cycle or an unknown dependency", () => {
    expect(() =>
      criticalPath(
        [
          { name: "a", dependsOn: ["b"] },
          { name: "b", dependsOn: ["a"] },
        ],
        {},
      ),
    ).toThrow(/cycle/);
    expect(() => criticalPath([{ name: "a", dependsOn: ["x"] }], {})).toThrow(/unknown step x/);
  });

  it("puts the lab create's critical path through the cluster, as docs/ARCHITECTURE.md (The lab blueprint) says", () => {
    const durations = labStepDurations(AZURE_LATENCY_PROFILE, DEFAULT_KUBELET_TIMING);
    for (const s of CREATE_STEPS) expect(durations[s.name], s.name).toBeGreaterThanOrEqual(0);
    const result = criticalPath(CREATE_STEPS, durations);
    expect(result.path[0]).toBe("rg");
    expect(result.path).toContain("aks");
    expect(result.path.slice(-2)).toEqual(["workload", "verify"]);
    // The federated credential (2 s) outlasts the kubeconfig (1 s) after the cluster.
    expect(result.path).toEqual(["rg", "aks", "fic", "workload", "verify"]);
    expect(result.totalMs).toBe(
      AZURE_LATENCY_PROFILE.resourceGroupCreate +
        AZURE_LATENCY_PROFILE.managedClusterCreate +
        AZURE_LATENCY_PROFILE.federatedCredentialCreate +
        (durations.verify ?? 0),
    );
  });
});

describe("latency figures", () => {
  it("takes nearest-rank percentiles", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(summarize([1, 2, 3, 4])).toEqual({ n: 4, p50: 2, p99: 4, max: 4, mean: 2.5 });
  });
});
