import { Redis } from "ioredis";
import { RedisLabRegistry } from "../adapters/redis/registry.ts";
import { startLabops } from "../app/main.ts";
import type { RequestLogEntry, ThrottleLimits } from "../emulators/azure/index.ts";
import { startChatEmulators } from "../emulators/chat.ts";
import { startEmulatedCloud } from "../emulators/world.ts";
import { createLogger } from "../src/log.ts";
import type { World } from "../test/helpers/chat-world.ts";
import { type ChatDriver, slackDriver, teamsDriver } from "../test/helpers/drivers.ts";
import { REDIS_URL, testEnv, waitFor } from "../test/helpers/env.ts";
import { dropPrefix } from "../test/helpers/sinks.ts";
import { log, out, setting } from "./lib/report.ts";

/**
 * A burst: BENCH_LABS (20) `lab create` commands at once, half in one Slack
 * channel and half in one Teams channel, through the emulated chat platforms
 * (their published rate limits enforced, every 429 counted), the bot's web
 * and worker roles with the real lab processors (worker concurrency as
 * configured), and the emulated Azure and AKS at BENCH_TIME_SCALE (20) with
 * ARM throttling on at Azure's limits (token buckets refilled in emulated
 * time). Every lab must end ready with its thread marked succeeded, with no
 * chat 429; ARM 429s are counted (the SDK rides them out on Retry-After).
 *
 * Twenty labs stay within Azure's own limits, so a second run (burst.throttled)
 * tightens the ARM buckets (BENCH_TIGHT: writes 20 then 0.15/s, reads 40 then
 * 0.25/s, emulated) until the SDK and the step retries must ride 429s out.
 *
 * Goal (docs/ARCHITECTURE.md, Quality bars): all complete, chat 429s zero.
 * Run: `npm run bench -- burst`.
 */

const LABS = setting("BENCH_LABS", 20);
const TIME_SCALE = setting("BENCH_TIME_SCALE", 20);

const isWrite = (method: string) => method !== "GET" && method !== "HEAD";

async function runBurst(bench: string, throttling: Partial<ThrottleLimits> | undefined): Promise<void> {
  const requests: Array<RequestLogEntry & { at: number }> = [];
  const cloud = await startEmulatedCloud({
    timeScale: TIME_SCALE,
    log: (entry) => requests.push({ ...entry, at: Date.now() }),
    ...(throttling ? { throttling } : {}),
  });
  const chat = await startChatEmulators({ timeScale: TIME_SCALE, ca: cloud.ca });
  const env = testEnv({
    ...cloud.env(),
    ...chat.env,
    LABOPS_ROLE: "web,worker",
    LABOPS_LOG_LEVEL: "warn",
  });
  const prefix = String(env.LABOPS_REDIS_PREFIX);
  const bot = await startLabops({
    env,
    logger: createLogger({ level: "warn", destination: process.stderr }),
    host: "127.0.0.1",
  });
  chat.connect(`http://127.0.0.1:${bot.port}`);
  const redis = new Redis(REDIS_URL);
  const registry = new RedisLabRegistry(redis, prefix);

  const world = { slack: chat.slack, teams: chat.teams } as unknown as World;
  const drivers: ChatDriver[] = [slackDriver(world, "C0BURSTLAB"), teamsDriver(world, "burst-labs")];
  const names = Array.from({ length: LABS }, (_, i) => `burst-${String(i).padStart(2, "0")}`);
  const driverOf = (i: number) => drivers[i % drivers.length] as ChatDriver;

  try {
    const t0 = Date.now();
    await Promise.all(names.map((name, i) => driverOf(i).say("ada", `lab create ${name}`)));
    const states = await waitFor(
      async () => {
        const records = await Promise.all(names.map((n) => registry.get(n)));
        const failed = records.filter((r) => r?.state === "failed").map((r) => r?.name);
        if (failed.length > 0) return { failed, ready: records.filter((r) => r?.state === "ready").length };
        return records.every((r) => r?.state === "ready") ? { failed, ready: records.length } : undefined;
      },
      `${LABS} labs ready`,
      (40 * 60_000) / TIME_SCALE + 120_000,
      200,
    );
    const wallMs = Date.now() - t0;
    // The final card edit follows the record by a moment.
    const succeeded = () =>
      drivers.reduce(
        (n, d) =>
          n + d.threads().filter((t) => /^Lab \S+ is ready/.test(t.title) && t.status === "succeeded").length,
        0,
      );
    await waitFor(() => succeeded() === LABS || undefined, `${LABS} succeeded threads`, 30_000).catch(
      () => undefined,
    );
    const arm = requests.filter((r) => r.listener === "arm" && r.at >= t0);
    const armWrites = arm.filter((r) => isWrite(r.method) && r.status < 400).length;
    const arm429 = arm.filter((r) => r.status === 429);
    const chat429 = chat.slack.rateLimited().length + chat.teams.rateLimited().length;
    log("bench.burst.done", { wallMs, states, succeeded: succeeded(), stats: cloud.azure.stats });
    if (chat429 > 0) {
      log("bench.burst.chat_429", {
        slack: chat.slack.rateLimited().map((c) => ({ method: c.method, at: c.at, channel: c.args.channel })),
        slackRefused: Object.fromEntries(chat.slack.workspace.limits.refused),
        teams: chat.teams.rateLimited(),
        teamsRefused: Object.fromEntries(chat.teams.limits.refused),
      });
    }
    out({
      bench,
      arm_limits: throttling ?? "azure",
      labs: LABS,
      time_scale: TIME_SCALE,
      worker_concurrency: bot.config.workerConcurrency,
      completed: states.ready,
      failed: states.failed.length,
      threads_succeeded: succeeded(),
      wall_ms: wallMs,
      chat_429: chat429,
      arm_requests: arm.length,
      arm_429_writes: arm429.filter((r) => isWrite(r.method)).length,
      arm_429_reads: arm429.filter((r) => !isWrite(r.method)).length,
      azure_writes: armWrites,
      azure_writes_per_s: Math.round((armWrites / wallMs) * 1000 * 10) / 10,
      goal: "all labs complete, no chat 429",
      met: states.ready === LABS && states.failed.length === 0 && succeeded() === LABS && chat429 === 0,
    });
  } finally {
    await bot.stop();
    await dropPrefix(redis, prefix);
    await chat.close();
    await cloud.stop();
  }
}

await runBurst("burst", undefined);
if (process.env.BENCH_TIGHT !== "0") {
  await runBurst("burst.throttled", {
    armWrites: { capacity: 20, refillPerSecond: 0.15 },
    armReads: { capacity: 40, refillPerSecond: 0.25 },
  });
}
process.exit(0);
