import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChat, type Running, startLabops } from "../../app/main.ts";
import { SlackRequestClient } from "../../emulators/slack/client.ts";
import { type SlackWebApiEmulator, startSlackWebApi } from "../../emulators/slack/web-api.ts";
import { createRedis } from "../../jobs/connection.ts";
import { type CommandWorker, startCommandWorker } from "../../jobs/worker.ts";
import { systemClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { ExternalError } from "../../src/errors.ts";
import { createLogger } from "../../src/log.ts";
import { REDIS_URL, TEST_BOT_TOKEN, TEST_SIGNING_SECRET, testEnv, waitFor } from "../helpers/env.ts";
import { sayUntilQueued } from "../helpers/processes.ts";

/**
 * A job that fails on every attempt (here: an outage that outlasts BullMQ's
 * retries) is not dropped in silence: after the last attempt the user who
 * asked is told, in the conversation, what could not finish and what to do.
 */
describe("a command whose job fails its last attempt", () => {
  let slackApi: SlackWebApiEmulator;
  let web: Running;
  let worker: CommandWorker;
  let connection: Redis;
  let client: Redis;
  const tries: number[] = [];

  beforeAll(async () => {
    slackApi = await startSlackWebApi({ botToken: TEST_BOT_TOKEN });
    const env = testEnv({ SLACK_API_URL: slackApi.url, LABOPS_ROLE: "web" });
    web = await startLabops({ env, logger: createLogger({ level: "silent" }), host: "127.0.0.1" });
    const config = loadConfig(env);
    const logger = createLogger({ level: "silent" });
    connection = createRedis(REDIS_URL, "worker");
    client = createRedis(REDIS_URL, "client");
    const { router } = await createChat(config, logger, client);
    worker = startCommandWorker({
      connection,
      prefix: config.redisPrefix,
      secretKey: config.secretKey,
      chat: router,
      logger,
      clock: systemClock(),
      processors: {},
      async fallback({ attempt }) {
        tries.push(attempt);
        throw new ExternalError("azure", "ServiceUnavailable", "Azure is away.", { retryable: true });
      },
    });
  });

  afterAll(async () => {
    await worker?.close(1_000);
    const keys = await client.keys(`${web.config.redisPrefix}:*`);
    if (keys.length > 0) await client.del(...keys);
    connection?.disconnect();
    client?.disconnect();
    await web?.stop();
    await slackApi?.close();
  });

  it("tells the user once, after the last attempt, with the command and its reference", {
    timeout: 60_000,
  }, async () => {
    const slack = new SlackRequestClient(`http://127.0.0.1:${web.port}/slack/events`, TEST_SIGNING_SECRET);
    // `lab list` needs no lab, so it is queued (a command about a missing lab is answered at intake).
    await sayUntilQueued(slack, { command: "/lab", text: "list", channel: "C0FAIL", user: "U0ADA" });
    const told = await waitFor(
      () => slackApi.messages.find((m) => m.channel === "C0FAIL" && /could not finish/.test(m.text)),
      "the failure to be told",
      45_000,
    );
    expect(tries).toEqual([1, 2, 3]);
    expect(told.ephemeral).toBe(true);
    expect(told.visibleTo).toBe("U0ADA");
    expect(told.text).toMatch(
      /^`lab list` could not finish \(`ServiceUnavailable`, after 3 attempts\)\. Say it again .*\(ref c-[0-9a-f]+\)\.$/,
    );
    // Earlier attempts said nothing: BullMQ was still going to retry them.
    expect(slackApi.messages.filter((m) => /could not finish/.test(m.text))).toHaveLength(1);
  });
});
