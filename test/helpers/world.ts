import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { type SlackEmulator, startSlackEmulator } from "../../emulators/slack/index.ts";
import { startTeamsEmulator, type TeamsEmulator } from "../../emulators/teams/index.ts";
import { COMMANDS_QUEUE } from "../../jobs/queue.ts";
import { createLogger } from "../../src/log.ts";
import { type Running, startLabops } from "../../src/main.ts";
import { LogCapture, REDIS_URL, TEST_BOT_TOKEN, TEST_SIGNING_SECRET, testEnv } from "./env.ts";

export const TEAMS_APP_ID = "00000000-0000-0000-0000-00000000b07a";
export const TEAMS_TENANT = "00000000-0000-0000-0000-0000000000aa";
export const SLACK_APP_TOKEN = "xapp-1-A0LABOPS-test";

export interface WorldOptions {
  slack?: boolean;
  teams?: boolean;
  /** Slack over Socket Mode instead of HTTP. */
  socketMode?: boolean;
  /** Rate-limit windows divided by this, on the emulators and in the bot alike. */
  timeScale?: number;
  env?: Record<string, string | undefined>;
  now?: () => number;
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
  const timeScale = options.timeScale ?? 20;
  const logs = new LogCapture();
  const slack = await startSlackEmulator({
    botToken: TEST_BOT_TOKEN,
    signingSecret: TEST_SIGNING_SECRET,
    appToken: SLACK_APP_TOKEN,
    timeScale,
  });
  const teams = await startTeamsEmulator({
    appId: TEAMS_APP_ID,
    appPassword: "teams-test-secret",
    tenantId: TEAMS_TENANT,
    timeScale,
  });
  const dir = await mkdtemp(join(tmpdir(), "labops-world-"));
  const caFile = join(dir, "ca.pem");
  await writeFile(caFile, teams.caPem);
  const useSlack = options.slack ?? true;
  const useTeams = options.teams ?? true;
  const env = testEnv({
    LABOPS_TIME_SCALE: String(timeScale),
    SLACK_API_URL: slack.apiUrl,
    ...(useSlack ? {} : { SLACK_SIGNING_SECRET: undefined, SLACK_BOT_TOKEN: undefined }),
    ...(useSlack && options.socketMode ? { SLACK_APP_TOKEN: SLACK_APP_TOKEN } : {}),
    ...(useTeams ? { ...teams.env(), LABOPS_CA_FILE: caFile } : {}),
    ...options.env,
  });
  const bot = await startLabops({
    env,
    logger: createLogger({ level: String(env.LABOPS_LOG_LEVEL ?? "info"), destination: logs }),
    host: "127.0.0.1",
    ...(options.now ? { now: options.now } : {}),
  });
  slack.setRequestUrl(`http://127.0.0.1:${bot.port}/slack/events`);
  teams.setBotEndpoint(`http://127.0.0.1:${bot.port}/api/messages`);
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
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await slack.close();
      await teams.close();
    },
  };
}
