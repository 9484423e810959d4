import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorld, type World } from "../helpers/chat-world.ts";
import { waitFor } from "../helpers/env.ts";
import { type PrivateRedis, startPrivateRedis } from "../helpers/private-redis.ts";

/**
 * Issue 14, finding 9: Teams' quick answers (and the answers to Slack
 * @mentions) are paced through Redis, so with Redis down a command got no
 * answer at all. The answer that says
 * labops cannot take commands now must still reach the user: when the
 * pacer's store is unreachable, the one answer to a message goes unpaced.
 */
describe("a Teams command while Redis is down", () => {
  let redis: PrivateRedis;
  let w: World;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    w = await startWorld({ env: { REDIS_URL: redis.url, LABOPS_ROLE: "web" } });
  }, 30_000);
  afterAll(async () => {
    await w?.close();
    await redis?.stop();
  });

  it("is answered that labops cannot take commands now, in the message's thread", async () => {
    const ada = { aadObjectId: "aad-outage-ada", name: "Ada" };
    const channel = w.teams.channel("outage");
    // Up: answered as usual.
    const before = await w.teams.as(ada).say(channel, "help");
    expect((await before.answer(5_000)).text).toMatch(/lab create/);

    await redis.crash();
    const said = await w.teams.as(ada).say(channel, "lab list");
    expect(said.status).toBe(200);
    const answer = await said.answer(5_000);
    expect(answer.text).toMatch(/cannot take commands right now/);
    expect(answer.threadRootId).toBe(said.message?.id);
    expect(w.logs.entries().some((e) => e.msg === "teams.answer_unpaced")).toBe(true);
    expect(w.logs.entries().some((e) => e.msg === "teams.answer_not_sent")).toBe(false);

    // A Slack @mention is answered with a message too (a slash command's answer is its HTTP response).
    const ada2 = w.slack.as("U0ADA", "ada");
    expect((await ada2.mention("C0OUTAGE", "<@U0BOT> lab list")).status).toBe(200);
    const told = await waitFor(
      () =>
        ada2
          .conversation("C0OUTAGE")
          .find((m) => m.ephemeral && /cannot take commands right now/.test(m.text)),
      "the Slack answer",
    );
    expect(told.visibleTo).toBe("U0ADA");
  });
});
