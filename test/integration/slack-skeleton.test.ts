import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Running, startLabops } from "../../app/main.ts";
import { newTriggerId, SlackRequestClient, slashCommandBody } from "../../emulators/slack/client.ts";
import { type SlackWebApiEmulator, startSlackWebApi } from "../../emulators/slack/web-api.ts";
import { COMMANDS_QUEUE } from "../../jobs/queue.ts";
import { createLogger } from "../../src/log.ts";
import {
  LogCapture,
  REDIS_URL,
  TEST_BOT_TOKEN,
  TEST_SIGNING_SECRET,
  testEnv,
  waitFor,
} from "../helpers/env.ts";

describe("walking skeleton: signed Slack command -> queue -> worker -> reply in its thread", () => {
  let slackApi: SlackWebApiEmulator;
  let bot: Running;
  let client: SlackRequestClient;
  let queue: Queue;
  let redis: Redis;
  const logs = new LogCapture();
  const env = testEnv();

  beforeAll(async () => {
    slackApi = await startSlackWebApi({ botToken: TEST_BOT_TOKEN });
    bot = await startLabops({
      env: { ...env, SLACK_API_URL: slackApi.url },
      logger: createLogger({ level: "info", destination: logs }),
      host: "127.0.0.1",
      processors: "placeholder",
    });
    client = new SlackRequestClient(`http://127.0.0.1:${bot.port}/slack/events`, TEST_SIGNING_SECRET);
    redis = new Redis(REDIS_URL);
    queue = new Queue(COMMANDS_QUEUE, { connection: redis, prefix: String(env.LABOPS_REDIS_PREFIX) });
  });

  afterAll(async () => {
    await bot?.stop();
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    redis?.disconnect();
    await slackApi?.close();
  });

  const jobCount = async () => {
    const counts = await queue.getJobCounts("waiting", "active", "completed", "failed", "delayed");
    return Object.values(counts).reduce((a, b) => a + b, 0);
  };

  it("acknowledges at once, then posts a message and replies in its thread with one correlation id", async () => {
    const res = await client.slashCommand({ command: "/lab", text: "create team-a", channel: "C0SKEL" });
    expect(res.status).toBe(200);
    const ack = res.json() as { response_type: string; text: string };
    expect(ack.response_type).toBe("ephemeral");
    expect(ack.text).toMatch(/^Queued `lab create team-a` \(ref c-[0-9a-f]{12}\)/);
    const correlationId = /ref (c-[0-9a-f]{12})/.exec(ack.text)?.[1];

    const root = await waitFor(
      () => slackApi.messages.find((m) => m.channel === "C0SKEL" && m.threadTs === undefined && !m.ephemeral),
      "the thread's root message",
    );
    const reply = await waitFor(
      () => slackApi.messages.find((m) => m.channel === "C0SKEL" && m.threadTs === root.ts),
      "a reply in the thread",
    );
    expect(reply.text).toMatch(/Placeholder step done for `lab create team-a`/);
    expect(JSON.stringify(root.blocks)).toContain(`ref ${correlationId}`);
    await waitFor(() => root.edits > 0 || undefined, "the status card update");
    expect(JSON.stringify(root.blocks)).toContain("white_check_mark");

    await waitFor(
      () => logs.entries().some((e) => e.msg === "job.completed") || undefined,
      "job.completed log",
    );
    const traced = logs
      .entries()
      .filter((e) => e.correlationId === correlationId)
      .map((e) => e.msg);
    expect(traced).toEqual(expect.arrayContaining(["command.queued", "job.started", "job.completed"]));
  });

  it("answers a forged signature with 401 and queues nothing", async () => {
    const before = await jobCount();
    const res = await client.slashCommand(
      { command: "/lab", text: "create forged", channel: "C0FORGE" },
      { signWith: "not-the-signing-secret" },
    );
    expect(res.status).toBe(401);
    expect(await jobCount()).toBe(before);
  });

  it("answers a six-minute-old timestamp with 401 and queues nothing", async () => {
    const before = await jobCount();
    const res = await client.slashCommand(
      { command: "/lab", text: "create stale", channel: "C0STALE" },
      { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 },
    );
    expect(res.status).toBe(401);
    expect(await jobCount()).toBe(before);
  });

  it("makes one job of the same delivery sent twice", async () => {
    const before = await jobCount();
    const body = slashCommandBody({
      command: "/lab",
      text: "list",
      channel: "C0DUP",
      triggerId: newTriggerId(),
    });
    const first = await client.postRaw(body, "application/x-www-form-urlencoded");
    const second = await client.postRaw(body, "application/x-www-form-urlencoded");
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect((second.json() as { text: string }).text).toMatch(/already received/);
    expect(await jobCount()).toBe(before + 1);
  });

  it("answers bad input with one clear message and queues nothing", async () => {
    const before = await jobCount();
    const res = await client.slashCommand({ command: "/lab", text: "create Team_A", channel: "C0BAD" });
    expect(res.status).toBe(200);
    expect((res.json() as { text: string }).text).toMatch(
      /not a valid lab name.*for example `\/lab create team-a/,
    );
    expect(await jobCount()).toBe(before);
  });

  it("answers health and readiness", async () => {
    const health = await fetch(`http://127.0.0.1:${bot.port}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${bot.port}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", checks: [{ name: "redis", ok: true }] });
  });
});

describe("readiness without Redis", () => {
  it("reports not ready while the process stays healthy", async () => {
    const bot = await startLabops({
      env: testEnv({ REDIS_URL: "redis://127.0.0.1:1", LABOPS_ROLE: "web" }),
      logger: createLogger({ level: "silent" }),
      host: "127.0.0.1",
    });
    try {
      expect((await fetch(`http://127.0.0.1:${bot.port}/healthz`)).status).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${bot.port}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ checks: [{ name: "redis", ok: false }] });
    } finally {
      await bot.stop();
    }
  });
});
