import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { startLabops } from "../../app/main.ts";
import { COMMANDS_QUEUE } from "../../jobs/queue.ts";
import { createLogger } from "../../src/log.ts";
import { REDIS_URL, testEnv } from "../../test/helpers/env.ts";
import { dropPrefix } from "../../test/helpers/sinks.ts";
import { type AckAsk, serveAsks } from "./ack-child.ts";
import { warmUp } from "./intake-warm-up.ts";

/**
 * The bot's web role (Teams only: CloudAdapter, intake, BullMQ enqueue in
 * Redis, the quick answer through the Bot Connector) in a process of its own
 * (lib/ack-child.ts), for teams-ack.ts. The Teams emulator is the parent's:
 * BENCH_TEAMS_ENV (JSON) holds what points the bot at it (MICROSOFT_APP_*,
 * BOTFRAMEWORK_*, LABOPS_CA_FILE, LABOPS_TIME_SCALE), so that what the
 * emulator does with the bot's answers is not counted as the bot's work.
 * Before it serves, it runs BENCH_INTAKE_WARMUP (20 000) commands through
 * intake (lib/intake-warm-up.ts), as the Slack bench's bot does. Answers
 * "cpu", "gc", "gc_ms", "jobs" and "close".
 */

const teamsEnv = JSON.parse(process.env.BENCH_TEAMS_ENV ?? "{}") as Record<string, string>;
await warmUp(Number(process.env.BENCH_INTAKE_WARMUP ?? 20_000), undefined, "teams");
(globalThis as { gc?: () => void }).gc?.();

const env = testEnv({
  ...teamsEnv,
  SLACK_SIGNING_SECRET: undefined,
  SLACK_BOT_TOKEN: undefined,
  LABOPS_ROLE: "web",
  LABOPS_LOG_LEVEL: "warn",
});
const bot = await startLabops({
  env,
  processors: "placeholder",
  logger: createLogger({ level: "warn" }),
  host: "127.0.0.1",
});
const prefix = String(env.LABOPS_REDIS_PREFIX);
const redis = new Redis(REDIS_URL);
const queue = new Queue(COMMANDS_QUEUE, { connection: redis, prefix });

async function jobCount(): Promise<number> {
  const counts = await queue.getJobCounts("waiting", "active", "completed", "failed", "delayed");
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

async function answer(ask: AckAsk): Promise<unknown> {
  switch (ask.kind) {
    case "jobs":
      return jobCount();
    case "close":
      await bot.stop();
      await dropPrefix(redis, prefix, queue);
      return null;
    default:
      throw new Error(`the bot answers no "${ask.kind}"`);
  }
}

if (bot.port === undefined) throw new Error("the bot has no port");
serveAsks(bot.port, answer);
