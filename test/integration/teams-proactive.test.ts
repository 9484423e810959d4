import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChat } from "../../app/main.ts";
import { createLogger } from "../../src/log.ts";
import { startWorld, TEAMS_TENANT, type World } from "../helpers/chat-world.ts";
import { REDIS_URL } from "../helpers/env.ts";
import { teamsVisible } from "../helpers/teams-visible.ts";

/**
 * Workers run in other processes than the web role that hears from Teams:
 * they post from the conversation reference the web role stored in Redis.
 */
describe("Teams proactive messages from another process", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ slack: false });
  });
  afterAll(async () => {
    await w?.close();
  });

  it("posts to a channel the bot was only added to, from the stored reference", async () => {
    const channel = w.teams.channel("proactive");
    const installed = await w.teams.install(channel, { aadObjectId: "aad-ada", name: "Ada" });
    expect(installed.status).toBe(200);
    const redis = new Redis(REDIS_URL);
    try {
      // A worker elsewhere knows only the lab's address: no serviceUrl, nothing from the turn.
      const { router } = await createChat(w.bot.config, createLogger({ level: "silent" }), redis);
      const address = { platform: "teams", tenant: TEAMS_TENANT, channel } as const;
      const thread = await router.postAlert(address, {
        title: "Pods restarted: color changed outside labops",
        status: "warning",
      });
      await router.reply(thread, "2 of 2 pods now run version 3.");
      const roots = w.teams.tenant.conversation(channel);
      expect(roots.map((m) => teamsVisible(m).text.split("\n")[0])).toEqual([
        "⚠️ Pods restarted: color changed outside labops",
      ]);
      expect(roots[0]?.replies.map((r) => r.text)).toEqual(["2 of 2 pods now run version 3."]);
    } finally {
      redis.disconnect();
    }
  });

  it("says what to do when it has never heard from a conversation", async () => {
    const redis = new Redis(REDIS_URL);
    try {
      const { router } = await createChat(w.bot.config, createLogger({ level: "silent" }), redis);
      const unknown = { platform: "teams", tenant: TEAMS_TENANT, channel: "19:never@thread.tacv2" } as const;
      await expect(router.postAlert(unknown, { title: "x", status: "info" })).rejects.toMatchObject({
        code: "teams_no_reference",
        message: expect.stringMatching(/mention the bot there once/),
      });
    } finally {
      redis.disconnect();
    }
  });
});
