import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { SlackRequestClient } from "../../emulators/slack/client.ts";
import type { SlackMessage } from "../../emulators/slack/web-api.ts";
import { createLogger } from "../../src/log.ts";
import { type Running, startLabops } from "../../src/main.ts";
import { REDIS_URL, TEST_SIGNING_SECRET, waitFor } from "../helpers/env.ts";
import { startTestWorld, type TestWorld } from "../helpers/world.ts";

// 30 minutes of lab lifetime are three seconds here.
const TIME_SCALE = 600;

describe("lab lifecycle: a failed create retried from chat, and expiry", () => {
  let world: TestWorld;
  let bot: Running;
  let slack: SlackRequestClient;
  let redis: Redis;
  let registry: RedisLabRegistry;

  beforeAll(async () => {
    world = await startTestWorld(TIME_SCALE);
    const env = world.env();
    bot = await startLabops({ env, logger: createLogger({ level: "silent" }), host: "127.0.0.1" });
    slack = new SlackRequestClient(`http://127.0.0.1:${bot.port}/slack/events`, TEST_SIGNING_SECRET);
    redis = new Redis(REDIS_URL);
    registry = new RedisLabRegistry(redis, String(env.LABOPS_REDIS_PREFIX));
  });

  afterAll(async () => {
    await bot?.stop();
    redis?.disconnect();
    await world?.stop();
  });

  const say = async (channel: string, text: string) => {
    const res = await slack.slashCommand({
      command: "/lab",
      text,
      channel,
      user: "U0OWNER",
      userName: "ada",
    });
    return (res.json() as { text: string }).text;
  };
  const roots = (channel: string) =>
    world.slack.messages.filter((m) => m.channel === channel && !m.threadTs && !m.ephemeral);
  const replies = (root: SlackMessage) => world.slack.messages.filter((m) => m.threadTs === root.ts);
  const state = async (lab: string, wanted: string) =>
    (await registry.get(lab))?.state === wanted ? registry.get(lab) : undefined;

  it("reports a failed step with Azure's code and a hint, and resumes there when retried", {
    timeout: 90_000,
  }, async () => {
    // The identity cannot be created until the fault is lifted: the plan fails at step mi.
    world.cloud.azure.faults.add({
      method: "PUT",
      path: "userAssignedIdentities/lab-team-r-mi$",
      status: 403,
      code: "AuthorizationFailed",
      count: 1_000,
    });
    await say("C0RETRY", "create team-r --ttl 7d");
    const failed = await waitFor(() => state("team-r", "failed"), "the lab to fail", 60_000);
    expect(failed?.lastError).toMatchObject({ step: "mi", code: "AuthorizationFailed" });
    const [card] = roots("C0RETRY");
    await waitFor(
      () => (/failed at mi/.test(card?.text ?? "") ? true : undefined),
      "the card to show the failure",
    );
    const cardJson = JSON.stringify(card?.blocks);
    expect(cardJson).toContain("AuthorizationFailed");
    expect(cardJson).toMatch(/Contributor/); // the hint
    expect(cardJson).toContain('"action_id":"lab.retry"');
    const doneBefore = Object.keys(failed?.steps ?? {});
    expect(doneBefore).toEqual(expect.arrayContaining(["rg", "kv"]));

    world.cloud.azure.faults.clear();
    await say("C0RETRY", "create team-r");
    const ready = await waitFor(() => state("team-r", "ready"), "the retried lab to be ready", 60_000);
    expect(Object.keys(ready?.steps ?? {})).toHaveLength(12);
    // Same thread, same card: the retry continued it.
    expect(roots("C0RETRY").filter((m) => /Lab team-r/.test(m.text))).toHaveLength(1);
    await waitFor(
      () =>
        card && replies(card).some((m) => /Retrying from where it stopped/.test(m.text)) ? true : undefined,
      "the retry note in the thread",
    );
    // The resource group and vault were made once, by the first run.
    const counts = world.cloud.azure.inventory().counts;
    expect(counts["Microsoft.KeyVault/vaults"]?.created).toBe(1);
  });

  it("reminds the channel before expiry and destroys the lab at expiry", { timeout: 90_000 }, async () => {
    await say("C0EXPIRE", "create team-e --ttl 30m");
    await waitFor(() => state("team-e", "ready"), "the lab to be ready", 60_000);
    const [card] = roots("C0EXPIRE");
    expect(card).toBeDefined();
    const reminder = await waitFor(
      () => (card ? replies(card).find((m) => /expires/.test(m.text)) : undefined),
      "the expiry reminder in the lab's thread",
      30_000,
    );
    expect(JSON.stringify(reminder.blocks)).toContain('"action_id":"lab.extend"');
    await waitFor(
      async () => ((await registry.get("team-e")) === undefined ? true : undefined),
      "the lab to expire",
      60_000,
    );
    const inventory = world.cloud.azure.inventory();
    expect(inventory.resources.filter((r) => r.id.includes("lab-team-e"))).toEqual([]);
    await waitFor(
      () => roots("C0EXPIRE").find((m) => /Lab team-e is destroyed/.test(m.text)),
      "the destroy card in the lab's channel",
    );
  });
});
