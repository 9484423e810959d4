import type { ChildProcess } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CREATE_STEPS } from "../../src/labs/create-plan.ts";
import { waitFor } from "../helpers/env.ts";
import {
  expectEachResourceOnce,
  expectOneCardAndEachMilestoneOnce,
  killHard,
  sayUntilQueued,
  startWebAndWorkers,
  type WebAndWorkers,
} from "../helpers/processes.ts";

// Slow enough that each step is a distinct moment to kill at, fast enough for the suite.
const TIME_SCALE = 300;

describe("a worker killed with SIGKILL after each step of a create, in turn", () => {
  let t: WebAndWorkers;

  beforeAll(async () => {
    t = await startWebAndWorkers({ timeScale: TIME_SCALE });
  });

  afterEach(({ task }) => {
    if (task.result?.state === "fail") process.stderr.write(t.workerLogs.join(""));
  });

  afterAll(async () => {
    await t?.stop();
  });

  const startWorker = (): ChildProcess => t.startWorker({ LABOPS_JOB_LOCK_MS: "1500" });

  it("completes the lab on restart, creating nothing twice and saying nothing twice", {
    timeout: 180_000,
  }, async () => {
    const { registry, queue, world } = t;
    await sayUntilQueued(t.slack, { command: "/lab", text: "create team-k --ttl 7d", channel: "C0KILL" });

    const killedAfter: string[] = [];
    let child = startWorker();
    // Kill the worker the moment each step's checkpoint lands, then start a fresh one.
    while (killedAfter.length < CREATE_STEPS.length) {
      const finished = await waitFor(
        async () => {
          const record = await registry.get("team-k");
          const done = Object.keys(record?.steps ?? {}).filter((s) => !killedAfter.includes(s));
          if (record?.state === "ready") return ["(ready)"];
          return done.length > 0 ? done : undefined;
        },
        `a step to finish after ${killedAfter.at(-1) ?? "the start"}`,
        60_000,
        5,
      );
      if (finished[0] === "(ready)") break;
      await killHard(child);
      killedAfter.push(...finished);
      child = startWorker();
    }

    const record = await waitFor(
      async () => ((await registry.get("team-k"))?.state === "ready" ? registry.get("team-k") : undefined),
      "the lab to be ready after the last restart",
      60_000,
    );
    // Kills landed after most steps (parallel steps may finish together and share a kill).
    expect(killedAfter.length).toBeGreaterThanOrEqual(8);
    expect(Object.keys(record?.steps ?? {})).toHaveLength(CREATE_STEPS.length);

    expectEachResourceOnce(world);
    await expectOneCardAndEachMilestoneOnce(world, "C0KILL");

    // The job itself ends completed in BullMQ: one job, nothing left running or failed.
    const counts = await waitFor(
      async () => {
        const c = await queue.getJobCounts("completed", "failed", "active", "wait", "delayed");
        return c.completed === 1 ? c : undefined;
      },
      "the create job to be completed",
      30_000,
    );
    expect(counts).toEqual({ completed: 1, failed: 0, active: 0, wait: 0, delayed: 0 });
  });
});
