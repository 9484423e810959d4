import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { startWorld, TEAMS_TENANT, type World } from "../helpers/chat-world.ts";
import { labRecord } from "../helpers/lab-record.ts";
import { teamsVisible } from "../helpers/teams-visible.ts";

/**
 * Issue 14, finding 8: a typo in `secret rotate nosuch VALUE` used to add a
 * secret and report success. Intake now knows a lab's secrets from its
 * record (the seeded ones and those added with `--new`) and refuses any
 * other, naming the ones it has, unless `--new` says a new one is meant.
 */
describe("secret names are checked at intake against the lab's record", () => {
  let w: World;
  let teamsChannel: string;
  const ada = { aadObjectId: "aad-names-ada", name: "Ada" };

  beforeAll(async () => {
    w = await startWorld();
    const registry = new RedisLabRegistry(w.redis, w.prefix);
    await registry.create(
      labRecord(
        "names-s",
        { platform: "slack", id: "U0ADA" },
        { platform: "slack", tenant: "T0001", channel: "C0NAMES" },
      ),
    );
    // A personal chat: a value typed in a channel is refused before its name is looked at.
    teamsChannel = w.teams.personalChat(ada);
    await registry.create({
      ...labRecord(
        "names-t",
        { platform: "teams", id: ada.aadObjectId, name: ada.name },
        { platform: "teams", tenant: TEAMS_TENANT, channel: teamsChannel, serviceUrl: w.teams.serviceUrl },
      ),
      secrets: ["api-key"],
    });
  });
  afterAll(async () => {
    await w?.close();
  });

  it("Slack: refuses an unknown secret with the names the lab has, and takes it with --new", async () => {
    const user = w.slack.as("U0ADA", "ada");
    const before = await w.jobCount();
    const typo = await user.slash("/secret", "rotate colour orange", { channel: "C0NAMES" });
    expect(String(typo.body?.text)).toBe(
      "Lab `names-s` has no secret `colour`; its secrets are `db-connection-string`, `color`. To add a new secret, say `/secret rotate colour --new --lab names-s`.",
    );
    const rollback = await user.slash("/secret", "rollback colour", { channel: "C0NAMES" });
    expect(String(rollback.body?.text)).toMatch(/^Lab `names-s` has no secret `colour`; its secrets are/);
    // No form opens for it either.
    await user.slash("/secret", "rotate colour", { channel: "C0NAMES" });
    expect(user.openViews()).toHaveLength(0);
    expect(await w.jobCount()).toBe(before);

    const known = await user.slash("/secret", "rotate COLOR orange", { channel: "C0NAMES" });
    expect(String(known.body?.text)).toMatch(/^Queued `secret rotate COLOR --lab names-s`/);
    const added = await user.slash("/secret", "rotate colour orange --new", { channel: "C0NAMES" });
    expect(String(added.body?.text)).toMatch(/^Queued `secret rotate colour --lab names-s --new`/);
    expect(await w.jobCount()).toBe(before + 2);
  });

  it("Teams: a secret added earlier with --new is known; others are refused", async () => {
    const before = await w.jobCount();
    const said = async (text: string) =>
      teamsVisible(await (await w.teams.as(ada).say(teamsChannel, text)).answer()).text;
    expect(await said("secret rotate api-key v2")).toMatch(/^Queued `secret rotate api-key --lab names-t`/);
    expect(await said("secret rotate api-kee v2")).toMatch(
      /^Lab `names-t` has no secret `api-kee`; its secrets are `db-connection-string`, `color`, `api-key`\./,
    );
    expect(await w.jobCount()).toBe(before + 1);
  });
});
