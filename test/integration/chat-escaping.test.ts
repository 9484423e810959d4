import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisAuditLog } from "../../adapters/redis/audit.ts";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import type { SlackMessage } from "../../emulators/slack/emulator.ts";
import type { TeamsMessage } from "../../emulators/teams/emulator.ts";
import { type EmulatedCloud, startEmulatedCloud } from "../../emulators/world.ts";
import { startWorld, TEAMS_TENANT, type World } from "../helpers/chat-world.ts";
import { waitFor } from "../helpers/env.ts";
import { labRecord } from "../helpers/lab-record.ts";

/**
 * Whatever a user or a record put into a string (a display name, a stored
 * lab name the parser would now refuse, an audit entry) reaches a Slack card
 * or a Teams card as text: no `<!channel>`, no mention, no link.
 */
const HOSTILE = "<!channel> [click](https://evil.example) <https://evil.example|login> *x*";

/** Any form that Slack would turn into a broadcast, a link or a mention (but of a real user who ran a command). */
function slackLive(text: string): string[] {
  return [...text.matchAll(/<(![a-z]+|@[^>]*|https?:[^>]*)>/g)]
    .map((m) => m[0])
    .filter((form) => !/^<@U0ADA>$/.test(form));
}

/** Any markdown link, and any HTML tag, in Teams text. */
function teamsLive(text: string): string[] {
  const links = [...text.matchAll(/(?<!\\)\[[^\]]*(?<!\\)\]\([^)]*\)/g)].map((m) => m[0]);
  const tags = [...text.matchAll(/(?<!\\)<[a-z!/][^>]*>/gi)].map((m) => m[0]);
  const urls = [...text.matchAll(/https?:\/\//g)].map((m) => m[0]);
  return [...links, ...tags, ...urls];
}

describe("user-derived strings render inert on both platforms", () => {
  let cloud: EmulatedCloud;
  let w: World;
  let registry: RedisLabRegistry;
  const slackChannel = "C0ESC";
  let teamsChannel: string;
  const teamsOwner = { aadObjectId: "aad-esc-owner", name: HOSTILE };

  beforeAll(async () => {
    cloud = await startEmulatedCloud({ timeScale: 600 });
    w = await startWorld({ cloud });
    registry = new RedisLabRegistry(w.redis, w.prefix);
    teamsChannel = w.teams.channel("esc");
    await registry.create(
      labRecord(
        "esc-slack",
        { platform: "slack", id: "U0ESC", name: HOSTILE },
        { platform: "slack", tenant: "T0001", channel: slackChannel },
      ),
    );
    await registry.create(
      labRecord(
        "esc-teams",
        { platform: "teams", id: teamsOwner.aadObjectId, name: HOSTILE },
        { platform: "teams", tenant: TEAMS_TENANT, channel: teamsChannel, serviceUrl: w.teams.serviceUrl },
      ),
    );
    // A record kept from before names were checked: the parser refuses its name today.
    await registry.create(
      labRecord(
        HOSTILE,
        { platform: "slack", id: "U0ESC" },
        { platform: "slack", tenant: "T0001", channel: slackChannel },
      ),
    );
    // An audit entry as a forged press once wrote it: markup in the command and the correlation id.
    await new RedisAuditLog(w.redis, w.prefix).record({
      at: Date.now(),
      correlationId: "[ref](https://evil.example)",
      deliveryId: "d-esc",
      platform: "teams",
      tenant: TEAMS_TENANT,
      channel: teamsChannel,
      userId: "aad-esc-owner",
      userName: HOSTILE,
      command: `lab create ${HOSTILE}`,
      kind: "lab.create",
      lab: "esc-slack",
      result: "refused",
    });
  }, 60_000);
  afterAll(async () => {
    await w?.close();
    await cloud?.stop();
  });

  it("Slack: a refusal listing a stored name, the lab list and a status card with its audit lines", {
    timeout: 30_000,
  }, async () => {
    const ada = w.slack.as("U0ADA", "ada");
    const refusal = await ada.slash("/lab", "status nope", { channel: slackChannel });
    const text = String(refusal.body?.text);
    expect(text).toMatch(/There is no lab `nope`; labs here:/);
    expect(text).toContain("&lt;!channel&gt;");
    expect(slackLive(text)).toEqual([]);

    await ada.slash("/lab", "status esc-slack", { channel: slackChannel });
    await ada.slash("/lab", "list", { channel: slackChannel });
    const card = (pattern: RegExp) =>
      waitFor(
        () =>
          w.slack.workspace
            .conversation(slackChannel)
            .find((m: SlackMessage) => !m.ephemeral && pattern.test(JSON.stringify(m.blocks ?? []))),
        `a card matching ${pattern}`,
        20_000,
      );
    const status = await card(/Recent commands/);
    const list = await card(/labs\*/);
    for (const m of [status, list]) {
      const blocks = JSON.stringify(m.blocks);
      const texts = (m.blocks as Array<{ text?: { text: string }; fields?: Array<{ text: string }> }>)
        .flatMap((b) => [b.text?.text ?? "", ...(b.fields ?? []).map((f) => f.text)])
        .join("\n");
      expect(texts).toContain("&lt;!channel&gt;");
      expect(slackLive(texts)).toEqual([]);
      expect(slackLive(m.text)).toEqual([]);
      // No part of the card is auto-linked or auto-mentioned by Slack.
      expect(blocks).not.toMatch(/"type":"mrkdwn","text":"[^"]*"(?!,"verbatim":true)/);
    }
    expect(JSON.stringify(status.blocks)).toContain("ref [ref](https:\u200B//evil.example)");
  });

  it("Teams: a refusal naming the owner, the lab list and a status card render no link", {
    timeout: 30_000,
  }, async () => {
    const bob = { aadObjectId: "aad-esc-bob", name: "Bob" };
    const delivery = await w.teams.as(bob).say(teamsChannel, "lab destroy esc-teams");
    const answer = await delivery.answer();
    const said = answer.text ?? "";
    expect(said).toMatch(/^Only /);
    expect(said).toContain("\\[click\\]");
    expect(teamsLive(said)).toEqual([]);

    await (await w.teams.as(teamsOwner).say(teamsChannel, "lab status esc-teams")).answer();
    await (await w.teams.as(teamsOwner).say(teamsChannel, "lab list")).answer();
    const texts = (m: TeamsMessage) => JSON.stringify(m.attachments);
    const card = (pattern: RegExp) =>
      waitFor(
        () =>
          w.teams.tenant
            .conversation(teamsChannel)
            .find((m) => m.from.role === "bot" && pattern.test(texts(m))),
        `a card matching ${pattern}`,
        20_000,
      );
    for (const m of [await card(/Lab esc-teams: ready/), await card(/ labs"/)]) {
      const blocks = m.attachments.map((a) => JSON.stringify(a.content)).join("\n");
      const shown = JSON.parse(`[${blocks}]`) as unknown[];
      const strings: string[] = [];
      // What the reader sees: text blocks, facts and button titles (not the card's $schema).
      JSON.stringify(shown, (k, v) => {
        if (typeof v === "string" && ["text", "title", "value"].includes(k)) strings.push(v);
        return v;
      });
      const all = strings.join("\n");
      expect(all).toContain("\\[click\\]");
      expect(teamsLive(all)).toEqual([]);
    }
  });
});
