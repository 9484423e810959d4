import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisConversationReferenceStore } from "../../adapters/redis/conversations.ts";
import { SlackChat } from "../../adapters/slack/chat.ts";
import { LabopsCloudAdapter, teamsAuthentication } from "../../adapters/teams/adapter.ts";
import { TeamsChat } from "../../adapters/teams/chat.ts";
import { systemClock } from "../../src/clock.ts";
import { createLogger } from "../../src/log.ts";
import { startWorld, TEAMS_TENANT, type World } from "../helpers/chat-world.ts";
import { slackDriver, teamsDriver } from "../helpers/drivers.ts";
import { REDIS_URL, waitFor } from "../helpers/env.ts";

const LABS = 20;

/**
 * Twenty labs created at once in one Slack channel and one Teams channel:
 * 20 commands, then per job a thread, card updates and a reply, all into the
 * same conversation. The emulators enforce the platforms' published limits
 * (scaled like the bot's) and count every 429; the bot must draw none.
 */
describe("a burst of 20 labs in one channel", () => {
  let w: World;
  beforeAll(async () => {
    // The emulators share this test process with the bot: a stall of its event loop (two cores,
    // two test files at once) delays the emulators' count of every call in flight, so calls sent
    // apart arrive as one bunch, as no real network bunches them. The jitter margin must cover
    // that stall here, as LABOPS_CHAT_MARGIN_MS would on a host that stalls: with 400 ms, a
    // stall up to about a second keeps every scaled window (200 ms to 6 s at 5×) under the limit.
    w = await startWorld({ timeScale: 5, env: { LABOPS_CHAT_MARGIN_MS: "400" } });
  });
  afterAll(async () => {
    await w?.close();
  });

  it("completes every thread on Slack and on Teams without a single 429", async () => {
    const slack = slackDriver(w, "C0BURST");
    const teams = teamsDriver(w, "burst");
    // A lab's name is one conversation's (issue 14): each platform's burst has names of its own.
    const namesOf = (platform: string) =>
      Array.from({ length: LABS }, (_, i) => `burst-${platform[0]}-${String(i).padStart(2, "0")}`);
    await Promise.all([
      ...namesOf("slack").map((n) => slack.say("ada", `lab create ${n}`)),
      ...namesOf("teams").map((n) => teams.say("ada", `lab create ${n}`)),
    ]);
    for (const chat of [slack, teams]) {
      const names = namesOf(chat.platform);
      await waitFor(
        () =>
          chat.threads().filter((t) => t.status === "succeeded" && t.replies.length === 1).length === LABS ||
          undefined,
        `${LABS} finished threads on ${chat.platform}`,
        30_000,
      );
      expect(new Set(chat.threads().map((t) => t.title))).toEqual(
        new Set(names.map((n) => `lab create ${n}`)),
      );
    }
    expect(w.slack.rateLimited()).toEqual([]);
    expect(w.teams.rateLimited()).toEqual([]);
    expect(w.slack.workspace.limits.refusedTotal + w.teams.limits.refusedTotal).toBe(0);
  });

  it("would draw 429s without pacing: the emulators do enforce the limits", async () => {
    const logger = createLogger({ level: "silent" });
    const rawSlack = new SlackChat({
      botToken: String(w.bot.config.slack?.botToken),
      apiUrl: w.slack.apiUrl,
      logger,
      clock: systemClock(),
    });
    const slackAddress = { platform: "slack", tenant: "T0001", channel: "C0UNPACED" } as const;
    const slackResults = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        rawSlack.openThread(slackAddress, { title: `unpaced ${i}`, status: "running" }),
      ),
    );
    expect(slackResults.some((r) => r.status === "rejected")).toBe(true);
    expect(w.slack.rateLimited().length).toBeGreaterThan(0);

    const config = w.bot.config.teams;
    if (!config) throw new Error("Teams is not configured");
    const redis = new Redis(REDIS_URL);
    try {
      const rawTeams = new TeamsChat({
        adapter: new LabopsCloudAdapter(
          teamsAuthentication(config, w.bot.config.caPem, systemClock()),
          logger,
        ),
        appId: config.appId,
        references: new RedisConversationReferenceStore(redis, w.prefix),
        clock: systemClock(),
      });
      const channel = w.teams.channel("unpaced");
      const address = {
        platform: "teams",
        tenant: TEAMS_TENANT,
        channel,
        serviceUrl: w.teams.serviceUrl,
      } as const;
      await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          rawTeams.openThread(address, { title: `unpaced ${i}`, status: "running" }),
        ),
      );
      expect(w.teams.rateLimited().length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });
});
