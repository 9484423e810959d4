import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import type { SlackMessage } from "../../emulators/slack/emulator.ts";
import { type EmulatedCloud, startEmulatedCloud } from "../../emulators/world.ts";
import { startWorld, TEAMS_TENANT, type World } from "../helpers/chat-world.ts";
import { waitFor } from "../helpers/env.ts";
import { labRecord } from "../helpers/lab-record.ts";
import { slackVisible } from "../helpers/slack-visible.ts";
import { teamsVisible } from "../helpers/teams-visible.ts";

/**
 * Issue 14, finding 7: a lab is read only in its own conversation (admins
 * excepted). `lab status` and the secret commands about a lab of another
 * conversation, even on the other platform, are refused at intake and queue
 * nothing; `lab list` elsewhere shows a lab's name and state only.
 */
describe("a lab is read only in its own conversation", () => {
  let cloud: EmulatedCloud;
  let w: World;
  let teamsChannel: string;
  const owner = { aadObjectId: "aad-scope-ada", name: "Ada Owner" };

  beforeAll(async () => {
    cloud = await startEmulatedCloud({ timeScale: 600 });
    w = await startWorld({ cloud, env: { LABOPS_ADMINS: "slack:U0ADM" } });
    teamsChannel = w.teams.channel("scope");
    await new RedisLabRegistry(w.redis, w.prefix).create(
      labRecord(
        "scope-t",
        { platform: "teams", id: owner.aadObjectId, name: owner.name },
        { platform: "teams", tenant: TEAMS_TENANT, channel: teamsChannel, serviceUrl: w.teams.serviceUrl },
      ),
    );
  }, 60_000);
  afterAll(async () => {
    await w?.close();
    await cloud?.stop();
  });

  const refusal = /^Lab `scope-t` belongs to another conversation; ask there or an admin\.$/;

  it("refuses lab status and secret commands about a Teams lab from Slack, and queues nothing", async () => {
    const bob = w.slack.as("U0BOB", "bob");
    const before = await w.jobCount();
    const teamsBefore = w.teams.tenant.messages.length;
    for (const [slash, text] of [
      ["/lab", "status scope-t"],
      ["/secret", "list --lab scope-t"],
      ["/secret", "rollback color --lab scope-t"],
    ] as const) {
      const res = await bob.slash(slash, text, { channel: "C0OTHER" });
      expect(String(res.body?.text), text).toMatch(/^Lab `scope-t` belongs to another conversation/);
    }
    expect(await w.jobCount()).toBe(before);
    expect(w.teams.tenant.messages.length).toBe(teamsBefore);
    const status = await bob.slash("/lab", "status scope-t", { channel: "C0OTHER" });
    expect(String(status.body?.text)).toMatch(refusal);
  });

  it("refuses them from another Teams conversation too, and lets the lab's own conversation read it", async () => {
    const bob = { aadObjectId: "aad-scope-bob", name: "Bob" };
    const before = await w.jobCount();
    const elsewhere = await w.teams.as(bob).say(w.teams.personalChat(bob), "lab status scope-t");
    expect(teamsVisible(await elsewhere.answer()).text).toMatch(refusal);
    expect(await w.jobCount()).toBe(before);
    const here = await w.teams.as(bob).say(teamsChannel, "lab status scope-t");
    expect(teamsVisible(await here.answer()).text).toMatch(/^Queued `lab status scope-t`/);
  });

  it("lets an admin read it from anywhere", async () => {
    const admin = w.slack.as("U0ADM", "admin");
    const res = await admin.slash("/lab", "status scope-t", { channel: "C0ADMIN" });
    expect(String(res.body?.text)).toMatch(/^Queued `lab status scope-t`/);
  });

  it("lab list elsewhere shows the lab's name and state only", { timeout: 30_000 }, async () => {
    const bob = w.slack.as("U0BOB", "bob");
    await bob.slash("/lab", "list", { channel: "C0OTHER" });
    const card = await waitFor(
      () =>
        w.slack.workspace
          .conversation("C0OTHER")
          .find((m: SlackMessage) => !m.ephemeral && /scope-t/.test(slackVisible(m).text)),
      "the lab list",
      20_000,
    );
    const shown = slackVisible(card).text;
    expect(shown).toMatch(/\*scope-t\* · ready · another conversation/);
    expect(shown).not.toMatch(/Ada Owner|expires/);

    await (await w.teams.as(owner).say(teamsChannel, "lab list")).answer();
    const own = await waitFor(
      () =>
        w.teams.tenant
          .conversation(teamsChannel)
          .find((m) => m.from.role === "bot" && /Ada Owner · expires/.test(teamsVisible(m).text)),
      "the lab list in the lab's own conversation",
      20_000,
    );
    expect(teamsVisible(own).text).toMatch(/scope-t\*\* · ready · Ada Owner/);
  });
});
