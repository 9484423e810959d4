import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RedisRateLimiter } from "../../adapters/redis/rate-limiter.ts";
import { startWorld, TEAMS_TENANT, type World } from "../helpers/chat-world.ts";

/**
 * Teams gets its 200 as soon as intake has decided; the quick answer follows
 * under the tenant's connector limits. A turn that waited for the answer's
 * slot would hold Teams' request, and in a burst (30 connector calls a second
 * per app and tenant) push later turns past Teams' 15 s.
 */
describe("Teams quick answers after the acknowledgement", () => {
  let w: World;
  const ada = { aadObjectId: "aad-ada", name: "Ada" };
  // What the bot's own limiter counts for every connector call in the tenant.
  const appKey = `teams:${TEAMS_TENANT}:app`;

  beforeEach(async () => {
    w = await startWorld({ slack: false, timeScale: 1 });
  });
  afterEach(async () => {
    await w?.close();
  });

  const answerOf = (id: string | undefined) =>
    w.teams.tenant.messages.find((m) => m.from.role === "bot" && m.replyToId === id);

  it("acknowledges while the answer waits for its slot, then answers in the message's thread", async () => {
    const channel = w.teams.channel("after-ack");
    await new RedisRateLimiter(w.redis, w.prefix).block(appKey, 1_500);
    const said = await w.teams.as(ada).say(channel, "lab create after-ack");
    expect(said.status).toBe(200);
    // The command is queued and acknowledged, and its answer is not out yet: the slot is still ahead.
    expect(await w.jobCount()).toBe(1);
    expect(answerOf(said.message?.id)).toBeUndefined();
    const answer = await said.answer(5_000);
    expect(answer.threadRootId).toBe(said.message?.id);
    expect(answer.text).toMatch(/Queued/);
    expect(w.teams.rateLimited()).toEqual([]);
  });

  it("sends the answers still waiting before the web role stops", async () => {
    const channel = w.teams.channel("after-ack-stop");
    await new RedisRateLimiter(w.redis, w.prefix).block(appKey, 800);
    const said = await w.teams.as(ada).say(channel, "help");
    expect(said.status).toBe(200);
    expect(answerOf(said.message?.id)).toBeUndefined();
    await w.bot.stop();
    expect(answerOf(said.message?.id)?.text).toMatch(/lab create/);
  });
});
