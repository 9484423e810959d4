import { type ChildProcess, spawn } from "node:child_process";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { RESOURCE_TYPES } from "../../emulators/azure/index.ts";
import { SlackRequestClient } from "../../emulators/slack/client.ts";
import { CREATE_STEPS } from "../../src/labs/plan.ts";
import { createLogger } from "../../src/log.ts";
import { type Running, startLabops } from "../../src/main.ts";
import { REDIS_URL, TEST_SIGNING_SECRET, waitFor } from "../helpers/env.ts";
import { startTestWorld, type TestWorld } from "../helpers/world.ts";

const root = new URL("../..", import.meta.url).pathname;
// Slow enough that each step is a distinct moment to kill at, fast enough for the suite.
const TIME_SCALE = 300;

describe("a worker killed with SIGKILL after each step of a create, in turn", () => {
  let world: TestWorld;
  let web: Running;
  let redis: Redis;
  let registry: RedisLabRegistry;
  let child: ChildProcess | undefined;
  const workerLogs: string[] = [];

  beforeAll(async () => {
    world = await startTestWorld(TIME_SCALE);
    web = await startLabops({
      env: world.env({ LABOPS_ROLE: "web" }),
      logger: createLogger({ level: "silent" }),
      host: "127.0.0.1",
    });
    redis = new Redis(REDIS_URL);
    registry = new RedisLabRegistry(redis, String(world.env().LABOPS_REDIS_PREFIX));
  });

  afterAll(async () => {
    child?.kill("SIGKILL");
    await web?.stop();
    redis?.disconnect();
    await world?.stop();
  });

  function startWorker(): ChildProcess {
    const env = world.env({ LABOPS_ROLE: "worker", LABOPS_JOB_LOCK_MS: "1500", LABOPS_LOG_LEVEL: "info" });
    const proc = spawn(process.execPath, ["src/main.ts"], {
      cwd: root,
      env: { ...(env as Record<string, string>), PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout?.on("data", (d: Buffer) => workerLogs.push(d.toString()));
    proc.stderr?.on("data", (d: Buffer) => workerLogs.push(d.toString()));
    return proc;
  }

  async function kill(proc: ChildProcess): Promise<void> {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGKILL");
    await exited;
  }

  it("completes the lab on restart, creating nothing twice and opening one thread", {
    timeout: 180_000,
  }, async () => {
    const slack = new SlackRequestClient(`http://127.0.0.1:${web.port}/slack/events`, TEST_SIGNING_SECRET);
    const ack = await slack.slashCommand({
      command: "/lab",
      text: "create team-k --ttl 7d",
      channel: "C0KILL",
    });
    expect(ack.status).toBe(200);

    const killedAfter: string[] = [];
    child = startWorker();
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
      await kill(child);
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

    const inventory = world.cloud.azure.inventory();
    for (const [type, counts] of Object.entries(inventory.counts)) {
      expect(counts.deleted, type).toBe(0);
      if (type.startsWith(RESOURCE_TYPES.secret) || type === RESOURCE_TYPES.roleAssignment) continue;
      const alive = inventory.resources.filter((r) => r.type === type).length;
      expect(counts.created, `${type} created twice`).toBe(alive);
    }
    expect(inventory.counts[RESOURCE_TYPES.roleAssignment]?.created).toBe(2);
    const vault = inventory.resources.find((r) => r.type === RESOURCE_TYPES.vault);
    expect(vault?.secrets?.map((s) => s.versions.length)).toEqual([1, 1]);

    const roots = world.slack.messages.filter((m) => m.channel === "C0KILL" && !m.threadTs && !m.ephemeral);
    expect(roots.map((m) => m.text)).toEqual([expect.stringMatching(/^Lab team-k is ready/)]);
    await kill(child);
  });
});
