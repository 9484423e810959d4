import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { LogLevel, WebClient } from "@slack/web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authorizeOnce } from "../../adapters/slack/app.ts";
import { startWorld, type World } from "../helpers/chat-world.ts";
import { slackDriver } from "../helpers/drivers.ts";
import { waitFor } from "../helpers/env.ts";

/**
 * Bolt's single-token authorize, with token verification deferred, asked
 * auth.test before every acknowledgement; at 100 commands at once Slack's
 * Tier 4 limit answered 429 and the acks missed Slack's 3 seconds (found by
 * `npm run bench -- slack-ack`). The bot asks once.
 */
describe("the Slack app's identity", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ teams: false, env: { LABOPS_ROLE: "web", LABOPS_LOG_LEVEL: "warn" } });
  });
  afterAll(async () => {
    await w?.close();
  });

  it("is asked of Slack once, not once per command", { timeout: 30_000 }, async () => {
    const slack = slackDriver(w, "C0AUTHONCE");
    await Promise.all(Array.from({ length: 30 }, (_, i) => slack.say("ada", `lab create once-${i}`)));
    await waitFor(async () => (await w.jobCount()) === 30 || undefined, "30 queued commands", 15_000).catch(
      (error: Error) => {
        // What the commands not queued were told says why (a refusal, a store too slow to answer).
        const others = slack.toldTo("ada").filter((text) => !text.startsWith("Queued"));
        throw new Error(`${error.message}; answers other than Queued: ${JSON.stringify(others)}`);
      },
    );
    expect(w.slack.calls.filter((c) => c.method === "auth.test")).toHaveLength(1);
    expect(w.slack.rateLimited()).toEqual([]);
  });

  it("asks again after a failed ask instead of remembering the failure", { timeout: 15_000 }, async () => {
    // A Web API that fails its first auth.test and answers the rest.
    let asks = 0;
    const api = createServer((_req, res) => {
      asks += 1;
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify(
          asks === 1 ? { ok: false, error: "fatal_error" } : { ok: true, user_id: "U0X", bot_id: "B0X" },
        ),
      );
    });
    await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
    const { port } = api.address() as AddressInfo;
    try {
      const client = new WebClient(undefined, {
        slackApiUrl: `http://127.0.0.1:${port}/api/`,
        retryConfig: { retries: 0 },
        logLevel: LogLevel.ERROR,
      });
      const authorize = authorizeOnce(client, "xoxb-test");
      await expect(authorize()).rejects.toThrow(/fatal_error/);
      expect(await authorize()).toEqual({ botToken: "xoxb-test", botId: "B0X", botUserId: "U0X" });
      await authorize();
      expect(asks).toBe(2);
    } finally {
      api.close();
    }
  });
});
