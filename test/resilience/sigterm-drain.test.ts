import type { ChildProcess } from "node:child_process";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SlackRequestClient } from "../../emulators/slack/client.ts";
import { COMMANDS_QUEUE } from "../../jobs/queue.ts";
import { CREATE_STEPS } from "../../src/labs/create-plan.ts";
import { REDIS_URL, TEST_SIGNING_SECRET, uniquePrefix, waitFor } from "../helpers/env.ts";
import {
  exitOf,
  expectEachResourceOnce,
  expectOneCardAndEachMilestoneOnce,
  killHard,
  sayUntilQueued,
  spawnLabops,
  startWebAndWorkers,
  type WebAndWorkers,
  within,
} from "../helpers/processes.ts";
import { startTestWorld, type TestWorld } from "../helpers/world.ts";

const TIME_SCALE = 300;
/** What a Kubernetes pod gets between SIGTERM and SIGKILL by default. */
const TERMINATION_GRACE_MS = 30_000;

describe("a worker sent SIGTERM in the middle of a lab create", () => {
  let t: WebAndWorkers;

  beforeAll(async () => {
    t = await startWebAndWorkers({ timeScale: TIME_SCALE });
  });

  afterEach(async ({ task }) => {
    if (task.result?.state !== "fail") return;
    process.stderr.write(t.workerLogs.join(""));
    process.stderr.write(`${JSON.stringify(await t.queue.getJobCounts())}\n`);
  });

  afterAll(async () => {
    await t?.stop();
  });

  // A short lock: a job left active by a dead worker would be seen as stalled within seconds.
  const startWorker = (): ChildProcess => t.startWorker({ LABOPS_JOB_LOCK_MS: "1500" });
  const steps = async () => Object.keys((await t.registry.get("team-d"))?.steps ?? {});
  /** The steps done, and those that a plan run starts as soon as these are done. */
  const runnable = (done: string[]) =>
    CREATE_STEPS.filter((s) => done.includes(s.name) || s.dependsOn.every((d) => done.includes(d))).map(
      (s) => s.name,
    );

  it("finishes its running steps, exits 0 within the grace, and leaves the job to the next worker", {
    timeout: 120_000,
  }, async () => {
    const { registry, queue, world, workerLogs } = t;
    await sayUntilQueued(t.slack, { command: "/lab", text: "create team-d", channel: "C0TERM" });

    const first = startWorker();
    // The first step done: the steps that depend only on it (vault, identity, cluster) start now.
    await waitFor(
      async () => ((await steps()).includes("rg") ? steps() : undefined),
      "the resource group step to finish",
      60_000,
      5,
    );
    const sentAt = Date.now();
    first.kill("SIGTERM");
    // Done by the time the worker stops starting steps (read after it says so).
    await waitFor(() => workerLogs.join("").includes('"worker.draining"'), "the worker to drain", 10_000, 5);
    const atDrain = await steps();
    const exit = await within(exitOf(first), TERMINATION_GRACE_MS);
    expect(exit, "the worker exits by itself within the grace period").toEqual({ code: 0, signal: null });
    expect(Date.now() - sentAt).toBeLessThan(TERMINATION_GRACE_MS);
    expect(workerLogs.join("")).toContain("SIGTERM received");

    const after = await steps();
    // The steps that were running when the signal came finished and were checkpointed rather
    // than abandoned, and none started once the worker was draining (its log, in order).
    const lines = workerLogs.join("").split("\n");
    const drainLine = lines.findIndex((l) => l.includes('"worker.draining"'));
    const startedAt = lines.flatMap((l, i) =>
      l.includes('"step.started"') ? [{ step: String(JSON.parse(l).step), line: i }] : [],
    );
    expect(startedAt.map((s) => s.step)).toContain("rg");
    expect(startedAt.filter((s) => s.line > drainLine)).toEqual([]);
    expect(after).toEqual(expect.arrayContaining([...new Set(startedAt.map((s) => s.step))]));
    expect(runnable(atDrain)).toEqual(expect.arrayContaining(after));
    expect(after.length).toBeLessThan(CREATE_STEPS.length);
    // ...and the job was not left active for a stall check to find: it is done, or waiting for a worker.
    const [job] = await queue.getJobs(["completed", "wait", "delayed", "active", "failed"]);
    const state = await job?.getState();
    expect(await queue.getActiveCount()).toBe(0);
    expect(state).toBe("waiting");
    expect(workerLogs.join("")).toContain('"job.handed_back"');

    // The next worker takes it from there, without redoing anything.
    const second = startWorker();
    await waitFor(
      async () => ((await registry.get("team-d"))?.state === "ready" ? true : undefined),
      "the lab to be ready on the next worker",
      60_000,
    );
    const done = await waitFor(
      async () => {
        const j = await queue.getJob(String(job?.id));
        return (await j?.isCompleted()) ? j : undefined;
      },
      "the job to be completed",
      30_000,
    );
    expect(done.failedReason).toBeFalsy();
    expect(done.stalledCounter, "the job was never picked up as stalled").toBe(0);
    expect(await queue.getJobCounts("active", "failed", "wait", "delayed")).toEqual({
      active: 0,
      failed: 0,
      wait: 0,
      delayed: 0,
    });
    expectEachResourceOnce(world);
    await expectOneCardAndEachMilestoneOnce(world, "C0TERM");

    await waitFor(
      () => workerLogs.join("").split('"web.listening"').length === 3,
      "the second worker's start",
    );
    second.kill("SIGTERM");
    expect(await exitOf(second)).toEqual({ code: 0, signal: null });
  });
});

describe("a web process sent SIGTERM while commands keep arriving", () => {
  let world: TestWorld;
  let redis: Redis;
  let child: ChildProcess | undefined;
  const prefix = uniquePrefix("term-web");
  const logs: string[] = [];

  beforeAll(async () => {
    world = await startTestWorld(TIME_SCALE);
    redis = new Redis(REDIS_URL);
  });

  afterEach(({ task }) => {
    if (task.result?.state === "fail") process.stderr.write(logs.join(""));
  });

  afterAll(async () => {
    if (child) await killHard(child);
    const keys = (await redis?.keys(`${prefix}:*`)) ?? [];
    if (keys.length > 0) await redis.del(...keys);
    redis?.disconnect();
    await world?.stop();
  });

  it("queues every command it answered Queued, refuses the rest at the door, and exits 0", {
    timeout: 60_000,
  }, async () => {
    child = spawnLabops(world.env({ LABOPS_ROLE: "web", LABOPS_REDIS_PREFIX: prefix }), logs);
    const port = await waitFor(
      () => /"port":(\d+)[^\n]*"web\.listening"/.exec(logs.join(""))?.[1],
      "the web process to listen",
      20_000,
    );
    const slack = new SlackRequestClient(`http://127.0.0.1:${port}/slack/events`, TEST_SIGNING_SECRET);
    // `lab list` needs no lab: every one is queued (a command about a lab that does not exist is answered at intake).
    await sayUntilQueued(slack, { command: "/lab", text: "list", channel: "C0WEB" });

    // Four waves of ten commands, 20 ms apart; the signal goes with the second wave.
    const send = (): Promise<string> =>
      slack.slashCommand({ command: "/lab", text: "list", channel: "C0WEB" }).then(
        (res) =>
          res.status === 200 && (res.json() as { text: string }).text.startsWith("Queued")
            ? "queued"
            : `answered ${res.status} ${res.body}`,
        () => "refused",
      );
    const sent: Array<Promise<string>> = [];
    const exited = exitOf(child);
    for (let wave = 0; wave < 4; wave++) {
      if (wave === 1) child.kill("SIGTERM");
      for (let i = 1; i <= 10; i++) sent.push(send());
      await new Promise((r) => setTimeout(r, 20));
    }
    const outcomes = await Promise.all(sent);
    const exit = await within(exited, TERMINATION_GRACE_MS);
    expect(exit).toEqual({ code: 0, signal: null });

    // Each command was either accepted and queued, or never got in (Slack retries those):
    // none was answered "Queued" and then lost, none half-handled.
    expect(outcomes.filter((o) => o !== "queued" && o !== "refused")).toEqual([]);
    const queued = outcomes.filter((o) => o === "queued").length;
    expect(queued).toBeGreaterThan(0);
    const queue = new Queue(COMMANDS_QUEUE, { connection: redis, prefix });
    try {
      expect(await queue.getWaitingCount()).toBe(1 + queued);
    } finally {
      await queue.close();
    }
  });
});
