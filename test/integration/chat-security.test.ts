import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisAuditLog } from "../../adapters/redis/audit.ts";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import {
  appMentionEvent,
  blockActionsPayload,
  interactiveBody,
  SlackRequestClient,
} from "../../emulators/slack/index.ts";
import { SLACK_SIGNING_SECRET, startWorld, TEAMS_TENANT, type World } from "../helpers/chat-world.ts";
import { waitFor } from "../helpers/env.ts";
import { labRecord } from "../helpers/lab-record.ts";

/**
 * Only requests that Slack or the Bot Framework really sent reach the queue:
 * through the real Bolt receiver and botbuilder's JWT validation.
 */
describe("forged, stale and replayed chat requests never reach the queue", () => {
  let w: World;
  let slack: SlackRequestClient;

  beforeAll(async () => {
    w = await startWorld();
    slack = new SlackRequestClient(`http://127.0.0.1:${w.bot.port}/slack/events`, SLACK_SIGNING_SECRET);
  });
  afterAll(async () => {
    await w?.close();
  });

  describe("Slack", () => {
    it("queues a signed slash command; refuses a forged and a six-minute-old one with 401", async () => {
      const ada = w.slack.as("U0ADA", "ada");
      const before = await w.jobCount();
      const signed = await ada.slash("/lab", "list", { channel: "C0SEC" });
      expect(signed.status).toBe(200);
      expect(await w.jobCount()).toBe(before + 1);

      const forged = await ada.slash("/lab", "list", {
        channel: "C0SEC",
        send: { signWith: "not-the-secret" },
      });
      expect(forged.status).toBe(401);
      const stale = await ada.slash("/lab", "list", {
        channel: "C0SEC",
        send: { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 },
      });
      expect(stale.status).toBe(401);
      expect(await w.jobCount()).toBe(before + 1);
    });

    it("answers Slack's unsigned ssl_check probe, and queues nothing smuggled inside one", async () => {
      const before = await w.jobCount();
      const smuggled = new URLSearchParams({
        ssl_check: "1",
        command: "/lab",
        text: "list",
        channel_id: "C0SEC",
        user_id: "U0ADA",
        trigger_id: "t-smuggled",
      }).toString();
      const probe = await fetch(`http://127.0.0.1:${w.bot.port}/slack/events`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: smuggled,
      });
      expect(probe.status).toBe(200);
      expect(await w.jobCount()).toBe(before);
    });

    it("answers a replayed slash command (same body, same signature) without a second job", async () => {
      const ada = w.slack.as("U0ADA", "ada");
      const first = await ada.slash("/lab", "status", { channel: "C0SEC" });
      const before = await w.jobCount();
      const again = await first.replay();
      expect(again.status).toBe(200);
      expect(String(again.body?.text)).toMatch(/already received/);
      expect(await w.jobCount()).toBe(before);
    });

    it("refuses forged and stale button presses, and counts a replayed press once", async () => {
      const registry = new RedisLabRegistry(w.redis, w.prefix);
      await registry.create(
        labRecord(
          "sec-a",
          { platform: "slack", id: "U0ADA" },
          { platform: "slack", tenant: "T0001", channel: "C0SEC" },
        ),
      );
      const ada = w.slack.as("U0ADA", "ada");
      await ada.slash("/lab", "destroy sec-a", { channel: "C0SEC" });
      const prompt = ada.conversation("C0SEC").findLast((m) => m.text.startsWith("Destroy lab `sec-a`?"));
      if (!prompt) throw new Error("no confirmation prompt");
      const confirmationId = String(
        ((prompt.blocks ?? []) as Array<{ elements?: Array<{ action_id?: string; value?: string }> }>)
          .flatMap((b) => b.elements ?? [])
          .find((e) => e.action_id === "destroy.confirm")?.value,
      );
      const payload = blockActionsPayload({
        team: "T0001",
        user: "U0ADA",
        channel: "C0SEC",
        messageTs: prompt.ts,
        ephemeral: true,
        actionId: "destroy.confirm",
        value: confirmationId,
        triggerId: w.slack.workspace.issueTrigger("U0ADA"),
        responseUrl: w.slack.workspace.issueResponseUrl(w.slack.url, { channel: "C0SEC", user: "U0ADA" }),
      });
      const before = await w.jobCount();
      expect((await slack.interactive(payload, { signWith: "forged" })).status).toBe(401);
      expect(
        (await slack.interactive(payload, { timestamp: Math.floor(Date.now() / 1000) - 600 })).status,
      ).toBe(401);
      expect(await w.jobCount()).toBe(before);

      const body = interactiveBody(payload);
      const timestamp = Math.floor(Date.now() / 1000);
      expect((await slack.postRaw(body, "application/x-www-form-urlencoded", { timestamp })).status).toBe(
        200,
      );
      await waitFor(
        async () => (await w.jobCount()) === before + 1 || undefined,
        "the confirmed destroy job",
      );
      // The very same request again, within Slack's five minutes: acknowledged, nothing queued.
      expect((await slack.postRaw(body, "application/x-www-form-urlencoded", { timestamp })).status).toBe(
        200,
      );
      expect(await w.jobCount()).toBe(before + 1);
    });

    it("acknowledges a press of a link button and does nothing else", async () => {
      const payload = blockActionsPayload({
        team: "T0001",
        user: "U0ADA",
        channel: "C0SEC",
        messageTs: "1700000000.000100",
        ephemeral: false,
        actionId: "link.0",
        value: "https://portal.azure.com/",
        triggerId: w.slack.workspace.issueTrigger("U0ADA"),
        responseUrl: w.slack.workspace.issueResponseUrl(w.slack.url, { channel: "C0SEC", user: "U0ADA" }),
      });
      const before = await w.jobCount();
      const logged = w.logs.lines.length;
      expect((await slack.interactive(payload)).status).toBe(200);
      expect(await w.jobCount()).toBe(before);
      expect(w.logs.lines.slice(logged).join("\n")).not.toMatch(/slack\.action_refused|handler_error/);
    });

    it("counts an event once when Slack retries it (x-slack-retry-num)", async () => {
      const ada = w.slack.as("U0ADA", "ada");
      const before = await w.jobCount();
      const first = await ada.mention("C0SEC", "<@U0BOT> lab list");
      expect(first.status).toBe(200);
      await waitFor(async () => (await w.jobCount()) === before + 1 || undefined, "the mention's job");
      const retry = await first.replay({ retryNum: 1 });
      expect(retry.status).toBe(200);
      const forged = await slack.event(
        appMentionEvent({
          team: "T0001",
          user: "U0ADA",
          channel: "C0SEC",
          text: "<@U0BOT> lab list",
          ts: "1.000001",
        }),
        {
          signWith: "forged",
        },
      );
      expect(forged.status).toBe(401);
      expect(await w.jobCount()).toBe(before + 1);
      const answers = ada
        .conversation("C0SEC")
        .filter((m) => m.ephemeral && m.text.startsWith("Queued `lab list`"));
      expect(answers.length).toBeGreaterThanOrEqual(1);
      expect(w.logs.entries().filter((e) => e.msg === "command.duplicate").length).toBeGreaterThanOrEqual(1);
    });
  });

  describe("Teams", () => {
    const ada = { aadObjectId: "aad-sec-ada", name: "Ada" };

    it("queues an activity with a valid Bot Framework token", async () => {
      const before = await w.jobCount();
      const res = await w.teams.as(ada).say(w.teams.personalChat(ada), "lab list");
      expect(res.status).toBe(200);
      expect(await w.jobCount()).toBe(before + 1);
    });

    it.each([
      ["forged (bad signature under a published kid)", { forged: true }],
      ["expired", { expiresIn: -600 }],
      ["for another bot (wrong audience)", { aud: "00000000-0000-0000-0000-0000000bad00" }],
      ["from another issuer", { iss: "https://api.botframework.com" }],
      ["for another serviceUrl", { serviceUrl: "http://127.0.0.1:1/amer/" }],
      ["not valid yet", { notBefore: 3_600 }],
    ])("answers a token that is %s with 401 and queues nothing", async (_what, mint) => {
      const before = await w.jobCount();
      const res = await w.teams
        .as(ada)
        .say(w.teams.personalChat(ada), "lab list", { token: w.teams.mintInbound(mint) });
      expect(res.status).toBe(401);
      expect(await w.jobCount()).toBe(before);
    });

    it("answers a request without a token, or with garbage, with 401", async () => {
      const user = w.teams.as(ada);
      const before = await w.jobCount();
      expect((await user.say(w.teams.personalChat(ada), "lab list", { token: "" })).status).toBe(401);
      expect((await user.say(w.teams.personalChat(ada), "lab list", { token: "not.a.jwt" })).status).toBe(
        401,
      );
      expect(await w.jobCount()).toBe(before);
    });

    it("counts a redelivered activity once", async () => {
      const first = await w.teams.as(ada).say(w.teams.personalChat(ada), "lab status");
      const before = await w.jobCount();
      const again = await first.replay();
      expect(again.status).toBe(200);
      expect(await w.jobCount()).toBe(before);
    });

    it("audits the sender by tenant and AAD object id", async () => {
      const entries = await new RedisAuditLog(w.redis, w.prefix).recent({ limit: 50 });
      const teams = entries.filter((e) => e.platform === "teams");
      expect(teams.length).toBeGreaterThanOrEqual(2);
      for (const e of teams)
        expect(e).toMatchObject({ tenant: TEAMS_TENANT, userId: "aad-sec-ada", userName: "Ada" });
    });
  });
});
