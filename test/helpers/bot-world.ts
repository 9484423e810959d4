import { Redis } from "ioredis";
import { expect } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { type Running, type StartOptions, startLabops } from "../../app/main.ts";
import type { CsiDriverRelease } from "../../emulators/kubernetes/index.ts";
import { SlackRequestClient } from "../../emulators/slack/client.ts";
import type { SlackMessage } from "../../emulators/slack/web-api.ts";
import { createLogger } from "../../src/log.ts";
import { LogCapture, REDIS_URL, TEST_SIGNING_SECRET } from "./env.ts";
import { dropPrefix, dumpRedis } from "./sinks.ts";
import { startTestWorld, type TestWorld } from "./world.ts";

/**
 * The real bot (every role it is given, the real workflows) in front of the
 * emulated cloud and the Slack Web API emulator, driven by signed slash
 * commands: what the lab and watcher tests share.
 */
export interface BotWorld {
  world: TestWorld;
  bot: Running;
  slack: SlackRequestClient;
  redis: Redis;
  registry: RedisLabRegistry;
  logs: LogCapture;
  prefix: string;
  /** Everything stored under the test's prefix, as text (strings, hashes, lists, sets, sorted sets, streams). */
  dumpRedis(): Promise<string>;
  stop(): Promise<void>;
}

export interface BotWorldOptions {
  env?: Record<string, string | undefined>;
  /** The clusters' CSI driver release (see startTestWorld). */
  csiDriver?: CsiDriverRelease;
  logLevel?: string;
  watcher?: StartOptions["watcher"];
  /** The bot's traces (the SDK with an in-memory exporter) and its metrics; none when absent. */
  tracing?: StartOptions["tracing"];
  metrics?: StartOptions["metrics"];
}

export async function startBotWorld(timeScale: number, options: BotWorldOptions = {}): Promise<BotWorld> {
  const world = await startTestWorld(timeScale, options.csiDriver ? { csiDriver: options.csiDriver } : {});
  const env = world.env(options.env);
  const prefix = String(env.LABOPS_REDIS_PREFIX);
  const logs = new LogCapture();
  const level = options.logLevel ?? "info";
  const bot = await startLabops({
    env,
    logger: createLogger({ level, destination: logs }),
    host: "127.0.0.1",
    // At the tests' time scales a rotate's wait for its command's thread falls to its 5 s floor,
    // which a loaded machine (a full run beside other work) can exceed between the write and the
    // thread; the alert then rightly goes to a thread of its own and a test looking in the command's
    // thread waits in vain. Production waits 60 s; a test world waits 30 s unless it says otherwise.
    watcher: { threadGraceMs: 30_000, ...options.watcher },
    ...(options.tracing ? { tracing: options.tracing } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  const redis = new Redis(REDIS_URL);
  return {
    world,
    bot,
    slack: new SlackRequestClient(`http://127.0.0.1:${bot.port}/slack/events`, TEST_SIGNING_SECRET),
    redis,
    registry: new RedisLabRegistry(redis, prefix),
    logs,
    prefix,
    dumpRedis: () => dumpRedis(redis, prefix),
    async stop() {
      await bot.stop();
      await dropPrefix(redis, prefix);
      await world.stop();
    },
  };
}

/** One Slack channel of a bot world (started later, in `beforeAll`), as the user sees it. */
export function slackChannel(world: () => BotWorld, channel: string, user = { id: "U0ADA", name: "ada" }) {
  const messages = () => world().world.slack.messages.filter((m) => m.channel === channel);
  const roots = () => messages().filter((m) => !m.threadTs && !m.ephemeral);
  return {
    /** Sends a signed slash command; returns the acknowledgement's text. */
    async say(command: "/lab" | "/secret" | "/host", text: string): Promise<string> {
      const res = await world().slack.slashCommand({
        command,
        text,
        channel,
        user: user.id,
        userName: user.name,
      });
      expect(res.status).toBe(200);
      return (res.json() as { text: string }).text;
    },
    messages,
    roots,
    rootsTitled: (pattern: RegExp) => roots().filter((m) => pattern.test(m.text)),
    replies: (root: SlackMessage) => world().world.slack.messages.filter((m) => m.threadTs === root.ts),
  };
}

/** A Block Kit card as one string to match against. */
export const cardOf = (m: SlackMessage): string => JSON.stringify(m.blocks ?? []);
