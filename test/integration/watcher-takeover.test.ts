import { type ChildProcess, spawn } from "node:child_process";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLeases } from "../../adapters/redis/leases.ts";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { type Running, startLabops } from "../../app/main.ts";
import { SlackRequestClient } from "../../emulators/slack/client.ts";
import type { SlackMessage } from "../../emulators/slack/web-api.ts";
import { createLogger } from "../../src/log.ts";
import { LogCapture, REDIS_URL, TEST_SIGNING_SECRET, waitFor } from "../helpers/env.ts";
import { CSI_DRIVER_RELEASES, startTestWorld, type TestWorld } from "../helpers/world.ts";

/**
 * Two watcher replicas: the one owning the lab is a child process, killed
 * with SIGKILL (no goodbye, no lease released); the other, in this process,
 * takes the lab over once the lease lapses and carries on. Nothing is said
 * twice: not the rotation the dead owner already reported, not the one that
 * happened while nobody watched.
 */
const root = new URL("../..", import.meta.url).pathname;
const TIME_SCALE = 600;
const CHANNEL = "C0TAKE";
const LAB = "team-t";
const COMPLETED = /^color: [0-9a-f]{8} reached 2\/2 pods in/;

// Under each CSI driver release the AKS emulator models (the watcher relies on no rotation event).
const SUITE = "rotation watcher: the owning replica dies, another takes over (CSI driver %s)";

describe.each(CSI_DRIVER_RELEASES)(SUITE, (csiDriver) => {
  let world: TestWorld;
  let bot: Running;
  let standby: Running | undefined;
  let child: ChildProcess | undefined;
  let slack: SlackRequestClient;
  let redis: Redis;
  let registry: RedisLabRegistry;
  let leases: RedisLeases;
  const childLines: string[] = [];
  const standbyLogs = new LogCapture();

  beforeAll(async () => {
    world = await startTestWorld(TIME_SCALE, { csiDriver });
    bot = await startLabops({
      env: world.env({ LABOPS_ROLE: "web,worker" }),
      logger: createLogger({ level: "silent" }),
      host: "127.0.0.1",
    });
    slack = new SlackRequestClient(`http://127.0.0.1:${bot.port}/slack/events`, TEST_SIGNING_SECRET);
    redis = new Redis(REDIS_URL);
    const prefix = String(world.env().LABOPS_REDIS_PREFIX);
    registry = new RedisLabRegistry(redis, prefix);
    leases = new RedisLeases(redis, prefix, "watch:lease");
  });

  afterAll(async () => {
    child?.kill("SIGKILL");
    await standby?.stop();
    await bot?.stop();
    const keys = await redis.keys(`${String(world.env().LABOPS_REDIS_PREFIX)}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis?.disconnect();
    await world?.stop();
  });

  function startChild(): ChildProcess {
    const env = world.env({ LABOPS_ROLE: "watcher", LABOPS_LOG_LEVEL: "info" });
    const proc = spawn(process.execPath, ["app/main.ts"], {
      cwd: root,
      env: { ...(env as Record<string, string>), PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout?.on("data", (d: Buffer) => childLines.push(...d.toString().split("\n")));
    proc.stderr?.on("data", (d: Buffer) => childLines.push(...d.toString().split("\n")));
    return proc;
  }

  const say = async (command: "/lab" | "/secret", text: string) => {
    const res = await slack.slashCommand({ command, text, channel: CHANNEL, user: "U0ADA", userName: "ada" });
    expect(res.status).toBe(200);
  };
  const roots = () =>
    world.slack.messages.filter((m) => m.channel === CHANNEL && !m.threadTs && !m.ephemeral);
  const replies = (root: SlackMessage) => world.slack.messages.filter((m) => m.threadTs === root.ts);
  const rotateThreads = () => roots().filter((m) => /^Rotation: color in team-t/.test(m.text));
  const completions = () => rotateThreads().flatMap((t) => replies(t).filter((m) => COMPLETED.test(m.text)));

  it("the child replica takes the lab and reports a rotation", { timeout: 120_000 }, async () => {
    child = startChild();
    await say("/lab", `create ${LAB} --ttl 7d`);
    await waitFor(
      async () => ((await registry.get(LAB))?.state === "ready" ? true : undefined),
      "the lab to be ready",
      60_000,
      50,
    );
    const owner = await waitFor(() => leases.holder(LAB), "the child to take the lease", 20_000);
    expect(owner).toContain(`:${child.pid}:`);

    // The standby replica starts now: the lease is held, so it waits.
    standby = await startLabops({
      env: world.env({ LABOPS_ROLE: "watcher" }),
      logger: createLogger({ level: "info", destination: standbyLogs }),
    });

    await say("/secret", `rotate color orange --lab ${LAB}`);
    await waitFor(() => (completions().length === 1 ? true : undefined), "the child's completion", 30_000);
    expect(await leases.holder(LAB)).toBe(owner);
    expect(standbyLogs.text()).not.toContain("watcher.lease_taken");
  });

  it("after SIGKILL, the standby takes over and says nothing twice", { timeout: 120_000 }, async () => {
    const dead = await leases.holder(LAB);
    const exited = new Promise((resolve) => child?.once("exit", resolve));
    child?.kill("SIGKILL");
    await exited;

    // A rotation while nobody watches: the lease still names the dead replica until it lapses.
    await say("/secret", `rotate color purple --lab ${LAB}`);
    const heir = await waitFor(
      async () => {
        const h = await leases.holder(LAB);
        return h !== undefined && h !== dead ? h : undefined;
      },
      "the standby to take the lease",
      30_000,
      100,
    );
    expect(heir).not.toContain(`:${child?.pid}:`);
    await waitFor(() => (completions().length === 2 ? true : undefined), "the standby's completion", 30_000);

    // One more through the standby, to be sure it has settled: still one completion per rotation.
    await say("/secret", `rotate color teal --lab ${LAB}`);
    await waitFor(() => (completions().length === 3 ? true : undefined), "the third completion", 30_000);
    expect(rotateThreads()).toHaveLength(3);
    for (const thread of rotateThreads()) {
      expect(replies(thread).filter((m) => COMPLETED.test(m.text))).toHaveLength(1);
    }
    expect(roots().filter((m) => /^Rotation (traced|stuck)/.test(m.text))).toEqual([]);
    // The standby logs a completion after its reply and card are out and the alert is marked
    // posted: the reply can be seen here a moment before the line is written.
    const logged = () => standbyLogs.text().match(/"msg":"watcher.rotation_completed"/g) ?? [];
    await waitFor(() => (logged().length >= 2 ? true : undefined), "the standby's two completions logged");
    expect(logged()).toHaveLength(2);
  });
});
