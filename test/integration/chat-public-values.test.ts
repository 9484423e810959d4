import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisAuditLog } from "../../adapters/redis/audit.ts";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { startWorld, TEAMS_TENANT, type World } from "../helpers/chat-world.ts";
import { waitFor } from "../helpers/env.ts";
import { labRecord } from "../helpers/lab-record.ts";
import { dumpRedis, findCanary } from "../helpers/sinks.ts";
import { teamsVisible } from "../helpers/teams-visible.ts";

/**
 * Issue 14, finding 9: a value typed in a message the conversation reads (a
 * Teams channel, a Slack @mention) is refused and never written, logged or
 * audited; the answer points to the private form. A Slack slash command and a
 * Teams personal chat are not public: their values are taken.
 */
describe("a secret value typed in public is refused", () => {
  let w: World;
  let teamsChannel: string;
  let personal: string;
  const ada = { aadObjectId: "aad-pub-ada", name: "Ada" };
  const CANARY = "Pub1icCanary-7f3e";

  beforeAll(async () => {
    w = await startWorld({ env: { LABOPS_LOG_LEVEL: "debug" } });
    const registry = new RedisLabRegistry(w.redis, w.prefix);
    teamsChannel = w.teams.channel("public");
    personal = w.teams.personalChat(ada);
    const teams = (channel: string) => ({
      platform: "teams" as const,
      tenant: TEAMS_TENANT,
      channel,
      serviceUrl: w.teams.serviceUrl,
    });
    const owner = { platform: "teams" as const, id: ada.aadObjectId, name: ada.name };
    await registry.create(labRecord("pub-t", owner, teams(teamsChannel)));
    await registry.create(labRecord("pub-p", owner, teams(personal)));
    await registry.create(
      labRecord(
        "pub-s",
        { platform: "slack", id: "U0ADA" },
        { platform: "slack", tenant: "T0001", channel: "C0PUB" },
      ),
    );
  });
  afterAll(async () => {
    await w?.close();
  });

  it("Teams: refused in a channel with a pointer to the form, taken in a personal chat", async () => {
    const before = await w.jobCount();
    const answer = await (
      await w.teams.as(ada).say(teamsChannel, `secret rotate color ${CANARY} --lab pub-t`)
    ).answer();
    expect(teamsVisible(answer).text).toBe(
      "That value was typed where everyone here can read it, so it was not used. To type it privately, say `@labops secret rotate color --lab pub-t` without the value: a form opens. Treat the value you typed as seen and pick a new one.",
    );
    expect(await w.jobCount()).toBe(before);

    const taken = await (await w.teams.as(ada).say(personal, "secret rotate color orange")).answer();
    expect(teamsVisible(taken).text).toMatch(/^Queued `secret rotate color --lab pub-p`/);
    expect(await w.jobCount()).toBe(before + 1);
  });

  it("Slack: refused in an @mention, taken in a slash command", async () => {
    const user = w.slack.as("U0ADA", "ada");
    const before = await w.jobCount();
    await user.mention("C0PUB", `<@U0BOT> secret rotate color ${CANARY}`);
    const told = await waitFor(
      () => user.conversation("C0PUB").find((m) => m.ephemeral && /typed where everyone/.test(m.text)),
      "the refusal",
    );
    expect(told.text).toMatch(/say `\/secret rotate color` without the value: a form opens/);
    expect(await w.jobCount()).toBe(before);

    const slash = await user.slash("/secret", "rotate color orange", { channel: "C0PUB" });
    expect(String(slash.body?.text)).toMatch(/^Queued `secret rotate color --lab pub-s`/);
  });

  it("the refused value is nowhere: not in Redis, the logs or the audit trail", async () => {
    const entries = await new RedisAuditLog(w.redis, w.prefix).recent({ limit: 50 });
    expect(entries.filter((e) => e.reason === "value_in_public")).toHaveLength(2);
    expect(findCanary(await dumpRedis(w.redis, w.prefix), CANARY)).toEqual([]);
    expect(findCanary(w.logs.text(), CANARY)).toEqual([]);
  });
});
