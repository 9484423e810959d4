import { Redis } from "ioredis";
import { afterAll } from "vitest";
import { RedisRateLimiter } from "../../adapters/redis/rate-limiter.ts";
import { SlackChat } from "../../adapters/slack/chat.ts";
import { startSlackEmulatorServer } from "../../emulators/slack/emulator.ts";
import { slackRatePolicy } from "../../src/chat/limits.ts";
import { PacedChat } from "../../src/chat/paced.ts";
import { systemClock } from "../../src/clock.ts";
import { createLogger } from "../../src/log.ts";
import { type ChatHarness, chatPortContract } from "../contract/chat-port.contract.ts";
import { REDIS_URL, TEST_BOT_TOKEN, uniquePrefix } from "../helpers/env.ts";
import { slackVisible } from "../helpers/slack-visible.ts";

/** Slack's limits ten times faster, on both sides, so the contract runs quickly under real pacing. */
const TIME_SCALE = 20;
const redis = new Redis(REDIS_URL);
afterAll(() => redis.disconnect());

chatPortContract("SlackChat (paced) against the Slack emulator", async (): Promise<ChatHarness> => {
  const slack = await startSlackEmulatorServer({ botToken: TEST_BOT_TOKEN, timeScale: TIME_SCALE });
  const logger = createLogger({ level: "silent" });
  const clock = systemClock(TIME_SCALE);
  const chat = new PacedChat(
    new SlackChat({ botToken: TEST_BOT_TOKEN, apiUrl: slack.apiUrl, logger, clock }),
    {
      limiter: new RedisRateLimiter(redis, uniquePrefix("slack-contract")),
      policy: slackRatePolicy,
      logger,
      clock,
    },
  );
  const address = { platform: "slack", tenant: "T0001", channel: "C0CONTRACT" } as const;
  const ws = slack.workspace;
  return {
    chat,
    address,
    user: { platform: "slack", id: "U0ADA" },
    settle: () => chat.flush(),
    roots: async () => ws.conversation(address.channel).map(slackVisible),
    read: async (thread) => {
      const root = ws.find(thread.address.channel, thread.threadId);
      if (!root) throw new Error("no such thread");
      return {
        root: slackVisible(root),
        replies: ws
          .thread(thread.address.channel, thread.threadId)
          .filter((m) => m.threadTs)
          .map(slackVisible),
      };
    },
    notices: async (user) =>
      ws.messages
        .filter((m) => m.ephemeral && m.visibleTo === user.id && m.channel === address.channel)
        .map(slackVisible),
    close: async () => {
      if (ws.calls.some((c) => c.status === 429)) throw new Error("the Slack emulator answered 429");
      await slack.close();
    },
  };
});
