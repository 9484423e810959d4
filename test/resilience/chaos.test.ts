import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmulatedCloud, startEmulatedCloud } from "../../emulators/world.ts";

import { startWorld, type World } from "../helpers/chat-world.ts";
import { slackDriver } from "../helpers/drivers.ts";
import { waitFor } from "../helpers/env.ts";
import { inventoryProblems } from "../helpers/inventory.ts";

const TIME_SCALE = 1_000;
const LABS = 10;
const SEED = 20_260_901;
const KUBE_SEED = 20_260_902;

/**
 * Ten labs created at once through Slack while the Azure emulator's seeded
 * chaos mode answers about one ARM or Key Vault call in eight with a 429, 500
 * or 503 and holds a third of them back for up to 20 emulated seconds, and the
 * AKS emulator answers one regular API request in five (applies, reads and
 * lists on every lab cluster; watches are spared, as the API server spares
 * them) with the API server's 429 (Retry-After: 1), 500 or 503 and holds a
 * fifth back for up to 5 emulated seconds. The SDK retries, the cluster
 * session's request retries and the step runner's retries must carry every
 * lab to ready, and nothing may be created twice on the way. (At this rate a
 * bot that let one transient answer fail a whole multi-object apply lost a
 * lab in most runs.)
 */
describe("seeded chaos (random 429, 500, 503 and latency) on Azure and Kubernetes across 10 labs", () => {
  let cloud: EmulatedCloud;
  let w: World;

  beforeAll(async () => {
    cloud = await startEmulatedCloud({ timeScale: TIME_SCALE, seed: SEED });
    w = await startWorld({ cloud });
  });
  afterAll(async () => {
    await w?.close();
    await cloud?.stop();
  });

  it("brings every lab to ready, once, with faults really injected", { timeout: 150_000 }, async () => {
    const slack = slackDriver(w, "C0CHAOS");
    cloud.azure.faults.setChaos({
      rate: 0.12,
      seed: SEED,
      statuses: [429, 500, 503],
      latencyMs: [1_000, 20_000],
      latencyRate: 0.3,
      targets: ["arm", "vault"],
    });
    cloud.kube.faults.setChaos({
      rate: 0.2,
      seed: KUBE_SEED,
      statuses: [429, 500, 503],
      latencyMs: [500, 5_000],
      latencyRate: 0.2,
    });
    const labs = Array.from({ length: LABS }, (_, i) => `chaos-${String(i).padStart(2, "0")}`);
    await Promise.all(labs.map((lab) => slack.say("ada", `lab create ${lab}`)));

    const ready = (lab: string) =>
      slack.threads().find((t) => t.title.startsWith(`Lab ${lab} is ready`) && t.status === "succeeded");
    await waitFor(
      () => {
        const failed = slack.threads().filter((t) => t.status === "failed");
        if (failed.length > 0) throw new Error(`a lab failed under chaos: ${JSON.stringify(failed)}`);
        return labs.every(ready) || undefined;
      },
      `${LABS} labs ready under chaos`,
      120_000,
      100,
    );
    const chaos = cloud.azure.stats().chaos;
    const kubeStats = cloud.kube.stats();

    cloud.azure.faults.setChaos(null);
    cloud.kube.faults.setChaos(null);

    // Not vacuous: chaos really failed and delayed calls, on both ARM and the vaults' paths.
    expect(chaos.failures).toBeGreaterThanOrEqual(20);
    expect(chaos.failuresByTarget.arm).toBeGreaterThanOrEqual(10);
    expect(chaos.failuresByTarget.vault).toBeGreaterThanOrEqual(5);
    expect(chaos.delays).toBeGreaterThanOrEqual(20);
    // Answered as errors, not only drawn (a drawn failure held back by drawn latency is answered later).
    expect(cloud.azure.stats().faultsInjected).toBeGreaterThanOrEqual(20);
    // Kubernetes chaos too: the lab clusters' API servers failed calls of each kind, on most clusters.
    expect(kubeStats.chaos.failures).toBeGreaterThanOrEqual(25);
    expect(kubeStats.chaos.failuresByStatus["429"]).toBeGreaterThanOrEqual(3);
    expect(kubeStats.chaos.failuresByStatus["500"]).toBeGreaterThanOrEqual(3);
    expect(kubeStats.chaos.failuresByStatus["503"]).toBeGreaterThanOrEqual(3);
    expect(Object.keys(kubeStats.chaos.failuresByCluster).length).toBeGreaterThanOrEqual(LABS / 2);
    expect(kubeStats.chaos.delays).toBeGreaterThanOrEqual(10);
    // The watcher's streams were opened under chaos and spared, as the API server spares them.
    expect(kubeStats.chaos.spared).toBeGreaterThan(0);
    expect(cloud.kube.stats().faultsInjected).toBeGreaterThanOrEqual(25);

    // Each lab exactly once in Azure, one thread each, every job completed.
    expect(inventoryProblems(cloud.azure.inventory(), labs)).toEqual([]);
    expect(cloud.azure.world.clusters()).toHaveLength(LABS);
    const roots = slack.threads().filter((t) => t.title.startsWith("Lab chaos-"));
    expect(roots).toHaveLength(LABS);
    const jobs = await w.queue.getJobs(["completed", "failed", "active", "waiting", "delayed"]);
    const creates = jobs.filter((j) => j.name === "lab.create");
    expect(creates).toHaveLength(LABS);
    // A job completes a moment after its card says ready.
    const states = await waitFor(async () => {
      const s = await Promise.all(creates.map((j) => j.getState()));
      return s.every((x) => x === "completed" || x === "failed") ? s : undefined;
    }, "every create job to finish");
    expect(states).toEqual(Array(LABS).fill("completed"));
    // The retries stayed on Azure's side: the chat was never pushed past its limits.
    expect(w.slack.rateLimited()).toEqual([]);
    expect(new Set(creates.map((j) => (j.data as { command: { lab?: string } }).command.lab))).toEqual(
      new Set(labs),
    );
  });
});
