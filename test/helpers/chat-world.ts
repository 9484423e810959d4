import { rm } from "node:fs/promises";
import { dirname } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { type Running, startLabops } from "../../app/main.ts";
import { EMULATED, startChatEmulators, writeCaFile } from "../../emulators/chat.ts";
import type { SlackEmulator } from "../../emulators/slack/index.ts";
import type { TeamsEmulator } from "../../emulators/teams/index.ts";
import type { EmulatedCloud } from "../../emulators/world.ts";
import { COMMANDS_QUEUE } from "../../jobs/queue.ts";
import type { Clock } from "../../src/clock.ts";
import { createLogger } from "../../src/log.ts";
import type { Tracing } from "../../src/ports/tracing.ts";
import { LogCapture, REDIS_URL, testEnv } from "./env.ts";
import { dropPrefix } from "./sinks.ts";

export const TEAMS_TENANT = EMULATED.teamsTenant;
export const SLACK_SIGNING_SECRET = EMULATED.slackSigningSecret;

export interface WorldOptions {
  slack?: boolean;
  teams?: boolean;
  /** Slack over Socket Mode instead of HTTP. */
  socketMode?: boolean;
  /** Rate-limit windows divided by this, on the emulators and in the bot alike. */
  timeScale?: number;
  env?: Record<string, string | undefined>;
  /** The bot's clock (its timeScale the world's), for a test that moves the bot's time instead of waiting. */
  clock?: Clock;
  /**
   * The emulated Azure and AKS to run the real lab workflows against (the
   * chat emulators then share its CA and time scale); placeholder processors when absent.
   */
  cloud?: EmulatedCloud;
  /** The bot's traces (the SDK with an in-memory exporter); none when absent. */
  tracing?: Tracing;
}

/** The bot (all roles, placeholder processors) in front of the Slack and/or Teams emulators. */
export interface World {
  bot: Running;
  slack: SlackEmulator;
  teams: TeamsEmulator;
  logs: LogCapture;
  prefix: string;
  redis: Redis;
  queue: Queue;
  jobCount(): Promise<number>;
  close(): Promise<void>;
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const cloud = options.cloud;
  const timeScale = cloud?.timeScale ?? options.timeScale ?? 20;
  const logs = new LogCapture();
  const chat = await startChatEmulators({
    timeScale,
    socketMode: options.socketMode ?? false,
    ...(cloud ? { ca: cloud.ca } : {}),
  });
  const { slack, teams } = chat;
  const caFile = await writeCaFile(chat.caPem);
  const useSlack = options.slack ?? true;
  const useTeams = options.teams ?? true;
  const slackEnv = Object.fromEntries(Object.entries(chat.env).filter(([k]) => k.startsWith("SLACK_")));
  const teamsEnv = Object.fromEntries(Object.entries(chat.env).filter(([k]) => !k.startsWith("SLACK_")));
  const env = testEnv({
    ...cloud?.env(),
    LABOPS_TIME_SCALE: String(timeScale),
    ...(useSlack ? slackEnv : { SLACK_SIGNING_SECRET: undefined, SLACK_BOT_TOKEN: undefined }),
    ...(useTeams ? { ...teamsEnv, LABOPS_CA_FILE: caFile } : {}),
    ...options.env,
  });
  const bot = await startLabops({
    env,
    // The chat path alone unless a cloud is given: the lab workflows call Azure.
    processors: cloud ? "workflows" : "placeholder",
    logger: createLogger({
      level: String(env.LABOPS_LOG_LEVEL ?? "info"),
      destination: logs,
      ...(options.tracing ? { tracing: options.tracing } : {}),
    }),
    host: "127.0.0.1",
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.tracing ? { tracing: options.tracing } : {}),
  });
  chat.connect(`http://127.0.0.1:${bot.port}`);
  const prefix = String(env.LABOPS_REDIS_PREFIX);
  const redis = new Redis(REDIS_URL);
  const queue = new Queue(COMMANDS_QUEUE, { connection: redis, prefix });
  return {
    bot,
    slack,
    teams,
    logs,
    prefix,
    redis,
    queue,
    async jobCount() {
      const counts = await queue.getJobCounts("waiting", "active", "completed", "failed", "delayed");
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
    async close() {
      await bot.stop();
      await dropPrefix(redis, prefix, queue);
      await chat.close();
      // writeCaFile made a folder of its own (labops-ca-…): nothing of a test stays in the temp dir.
      await rm(dirname(caFile), { recursive: true, force: true });
    },
  };
}
