import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import type { SlackMessage } from "../../emulators/slack/emulator.ts";
import type { TeamsMessage } from "../../emulators/teams/emulator.ts";
import { systemClock } from "../../src/clock.ts";
import { startWorld, TEAMS_TENANT, type World } from "../helpers/chat-world.ts";
import { waitFor } from "../helpers/env.ts";
import { labRecord } from "../helpers/lab-record.ts";
import { slackVisible } from "../helpers/slack-visible.ts";
import { teamsVisible } from "../helpers/teams-visible.ts";

/**
 * Destroy confirmations through the real platforms: single use, only for the
 * user who asked, dead after five minutes. The bot's clock is moved instead
 * of waiting.
 */
describe("destroy confirmations on Slack and Teams", () => {
  let w: World;
  let skew = 0;
  beforeAll(async () => {
    // The world's time scale (20), with the wall clock's time moved on by `skew`.
    const wall = systemClock(20);
    w = await startWorld({ timeScale: 20, clock: { ...wall, now: () => wall.now() + skew } });
  });
  afterAll(async () => {
    await w?.close();
  });
  afterEach(() => {
    skew = 0;
  });

  const destroyJobs = async (lab: string) =>
    (await w.queue.getJobs(["waiting", "active", "completed", "failed"])).filter(
      (j) => j.name === "lab.destroy" && (j.data as { command: { lab: string } }).command.lab === lab,
    ).length;

  describe("Slack", () => {
    const channel = "C0CONFIRM";
    const ada = () => w.slack.as("U0ADA", "ada");
    const prompt = async (lab: string): Promise<SlackMessage> => {
      await new RedisLabRegistry(w.redis, w.prefix).create(
        labRecord(lab, { platform: "slack", id: "U0ADA" }, { platform: "slack", tenant: "T0001", channel }),
      );
      await ada().slash("/lab", `destroy ${lab}`, { channel });
      const found = ada()
        .conversation(channel)
        .findLast((m) => m.ephemeral && slackVisible(m).buttons.some((b) => b.id === "destroy.confirm"));
      if (!found) throw new Error("no prompt");
      return structuredClone(found);
    };
    const lastToAda = () =>
      ada()
        .conversation(channel)
        .filter((m) => m.ephemeral)
        .at(-1)?.text ?? "";

    it("refuses an expired confirmation", async () => {
      // Slack dates its requests on the wall clock, and labops refuses one more than five minutes off its
      // own: the bot's time goes back a little over half of the five minutes while it asks, and as far
      // forward when it is answered, so the prompt is more than five minutes old and no request is refused.
      const half = 2.5 * 60_000 + 1_000;
      skew = -half;
      const p = await prompt("exp-s");
      skew = half;
      await ada().click(p, "destroy.confirm");
      await waitFor(() => /expired/.test(lastToAda()) || undefined, "the refusal");
      expect(lastToAda()).toMatch(
        /This confirmation expired \(they last 5 minutes\); `exp-s` was not destroyed/,
      );
      expect(await destroyJobs("exp-s")).toBe(0);
    });

    it("refuses a replayed confirmation: the second press of the same prompt", async () => {
      const p = await prompt("rep-s");
      await ada().click(p, "destroy.confirm");
      await waitFor(async () => (await destroyJobs("rep-s")) === 1 || undefined, "the destroy job");
      await ada().click(p, "destroy.confirm");
      await waitFor(() => /already answered/.test(lastToAda()) || undefined, "the refusal");
      expect(await destroyJobs("rep-s")).toBe(1);
    });

    it("refuses someone else's press and leaves the prompt to its owner", async () => {
      const p = await prompt("oth-s");
      await w.slack.as("U0BOB", "bob").click(p, "destroy.confirm");
      await waitFor(
        () =>
          w.slack.messages.find((m) => m.visibleTo === "U0BOB" && /Only the person who asked/.test(m.text)),
        "the refusal to bob",
      );
      expect(await destroyJobs("oth-s")).toBe(0);
      await ada().click(p, "destroy.confirm");
      await waitFor(async () => (await destroyJobs("oth-s")) === 1 || undefined, "ada's destroy");
    });
  });

  describe("Teams", () => {
    const ada = { aadObjectId: "aad-ada", name: "Ada" };
    const bob = { aadObjectId: "aad-bob", name: "Bob" };
    const channel = () => w.teams.channel("confirm");
    /** The card as Ada, who pressed it, sees it: the invoke response replaces it for her at once. */
    const seenByAda = (card: TeamsMessage) => teamsVisible(w.teams.tenant.seenBy(card, ada.aadObjectId));
    /** The card as everyone sees it, once the bot has updated the message. */
    const updated = (card: TeamsMessage) =>
      waitFor(() => (card.edits > 0 ? teamsVisible(card) : undefined), "the card updated for everyone");
    const prompt = async (lab: string): Promise<TeamsMessage> => {
      await new RedisLabRegistry(w.redis, w.prefix).create(
        labRecord(
          lab,
          { platform: "teams", id: "aad-ada" },
          { platform: "teams", tenant: TEAMS_TENANT, channel: channel(), serviceUrl: w.teams.serviceUrl },
        ),
      );
      const said = await w.teams.as(ada).say(channel(), `lab destroy ${lab}`);
      // The prompt is the bot's answer in the message's thread, posted after Teams' request had its 200.
      const card = await said.answer();
      expect(card.threadRootId).toBe(said.message?.id);
      if (!teamsVisible(card).buttons.some((b) => b.id === "destroy.confirm"))
        throw new Error("no prompt card");
      return card;
    };

    it("refuses an expired confirmation, in place of the card", async () => {
      const card = await prompt("exp-t");
      skew += 5 * 60_000 + 1_000;
      const res = await w.teams.as(ada).execute(card, "destroy.confirm");
      expect(res.status).toBe(200);
      expect(seenByAda(card).text).toMatch(/This confirmation expired/);
      expect(seenByAda(card).buttons).toEqual([]);
      const forEveryone = await updated(card);
      expect(forEveryone.text).toMatch(/This confirmation expired/);
      expect(forEveryone.buttons).toEqual([]);
      expect(await destroyJobs("exp-t")).toBe(0);
    });

    it("refuses a replayed confirmation: the same card pressed again", async () => {
      const card = await prompt("rep-t");
      const asShown = structuredClone(card);
      await w.teams.as(ada).execute(card, "destroy.confirm");
      expect(seenByAda(card).text).toMatch(/Queued `?lab destroy rep-t`?.*Confirmed by Ada/);
      // Everyone else in the channel sees the spent prompt too, not buttons that still look live.
      const forEveryone = await updated(card);
      expect(forEveryone.text).toMatch(/Confirmed by Ada/);
      expect(forEveryone.buttons).toEqual([]);
      expect(teamsVisible(w.teams.tenant.seenBy(card, bob.aadObjectId)).buttons).toEqual([]);
      const again = await w.teams.as(ada).execute(asShown, "destroy.confirm");
      expect(again.status).toBe(200);
      expect(seenByAda(asShown).text).toMatch(/already answered or has expired/);
      expect(await destroyJobs("rep-t")).toBe(1);
    });

    it("refuses someone else's press and leaves the prompt to its owner", async () => {
      const card = await prompt("oth-t");
      const res = await w.teams.as(bob).execute(card, "destroy.confirm");
      expect(res.body).toMatchObject({ type: "application/vnd.microsoft.activity.message" });
      expect(String(res.body?.value)).toMatch(/Only the person who asked/);
      expect(teamsVisible(card).buttons.map((b) => b.id)).toContain("destroy.confirm");
      await w.teams.as(ada).execute(card, "destroy.confirm");
      expect(await destroyJobs("oth-t")).toBe(1);
    });
  });
});
