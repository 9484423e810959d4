import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RESOURCE_TYPES } from "../../emulators/azure/index.ts";
import { LogCapture, waitFor } from "../helpers/env.ts";
import { type PrivateRedis, startPrivateRedis } from "../helpers/private-redis.ts";
import {
  expectEachResourceOnce,
  sayUntilQueued,
  startWebAndWorkers,
  type WebAndWorkers,
} from "../helpers/processes.ts";

const TIME_SCALE = 300;
const CHANNEL = "C0REDIS";
/** Long enough for every client to notice and back off; short enough for the suite. */
const OUTAGE_MS = 3_000;

describe("Redis crashing (SIGKILL) and coming back in the middle of running jobs", () => {
  let redisServer: PrivateRedis;
  let t: WebAndWorkers;
  const webLogs = new LogCapture();

  beforeAll(async () => {
    redisServer = await startPrivateRedis();
    t = await startWebAndWorkers({ timeScale: TIME_SCALE, redisUrl: redisServer.url, webLogs });
    t.startWorker();
  });

  afterEach(({ task }) => {
    if (task.result?.state === "fail") process.stderr.write(t.workerLogs.join("") + webLogs.text());
  });

  afterAll(async () => {
    await t?.stop();
    await redisServer?.stop();
  });

  const say = async (command: "/lab" | "/secret", text: string) => {
    const res = await t.slack.slashCommand({
      command,
      text,
      channel: CHANNEL,
      user: "U0OWNER",
      userName: "ada",
    });
    expect(res.status).toBe(200);
    return (res.json() as { text: string }).text;
  };
  const state = async (lab: string) => (await t.registry.get(lab))?.state;
  const roots = () =>
    t.world.slack.messages.filter((m) => m.channel === CHANNEL && !m.threadTs && !m.ephemeral);

  it("loses no accepted command: each ends completed, or failed with a message in its thread", {
    timeout: 150_000,
  }, async () => {
    const { registry, queue, world, workerLogs } = t;
    // The web role may still be connecting to Redis: the first command is sent until it is accepted.
    await sayUntilQueued(t.slack, {
      command: "/lab",
      text: "create team-r1",
      channel: CHANNEL,
      user: "U0OWNER",
    });
    await waitFor(async () => ((await state("team-r1")) === "ready" ? true : undefined), "team-r1", 60_000);

    // Three commands accepted, then Redis dies while they run.
    expect(await say("/lab", "create team-r2")).toMatch(/^Queued `lab create team-r2`/);
    expect(await say("/lab", "create team-r3")).toMatch(/^Queued `lab create team-r3`/);
    expect(await say("/secret", "rotate color teal --lab team-r1")).toMatch(/^Queued `secret rotate color/);
    await waitFor(
      async () => ((await registry.get("team-r2"))?.steps?.rg ? true : undefined),
      "team-r2's first step",
      60_000,
      5,
    );
    await redisServer.crash();
    // A command during the outage is refused with an answer, not accepted and lost.
    const refused = await say("/lab", "create team-r4");
    expect(refused).not.toMatch(/^Queued/);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    await redisServer.restart();

    // Every accepted command ends, and says so in the chat.
    for (const lab of ["team-r2", "team-r3"]) {
      const end = await waitFor(
        async () => {
          const s = await state(lab);
          return s === "ready" || s === "failed" ? s : undefined;
        },
        `${lab} to end`,
        90_000,
      );
      const thread = roots().filter((m) => m.text.includes(`Lab ${lab} `));
      expect(thread.map((m) => m.text)).toEqual([
        expect.stringMatching(end === "ready" ? `^Lab ${lab} is ready` : `^Lab ${lab} .*failed`),
      ]);
    }
    await waitFor(
      () => roots().some((m) => m.text.startsWith("Rotation: color in team-r1")) || undefined,
      "the rotation's thread",
      60_000,
    );
    const counts = await waitFor(
      async () => {
        const c = await queue.getJobCounts("completed", "failed", "active", "wait", "delayed");
        return (c.completed ?? 0) + (c.failed ?? 0) === 4 ? c : undefined;
      },
      "every accepted job to finish",
      60_000,
    );
    expect(counts).toEqual({ completed: 4, failed: 0, active: 0, wait: 0, delayed: 0 });
    expect(await state("team-r4")).toBeUndefined();
    expectEachResourceOnce(world, 3);
    // The rotation wrote its version once.
    const vault = world.cloud.azure
      .inventory()
      .resources.find((r) => r.type === RESOURCE_TYPES.vault && r.name.startsWith("kv-team-r1"));
    expect(vault?.secrets?.find((s) => s.name === "color")?.versions).toHaveLength(2);

    // The web role is back too: a new command is accepted again.
    await waitFor(
      async () => /^Queued `lab status team-r1`/.test(await say("/lab", "status team-r1")) || undefined,
      "the web role to accept commands again",
      30_000,
      500,
    );
    // No connection was left without an error handler (ioredis prints those to stderr).
    expect(workerLogs.join("")).not.toContain("Unhandled error event");
  });
});
