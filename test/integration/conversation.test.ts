import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { createChat } from "../../app/main.ts";
import { createLogger } from "../../src/log.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import { startWorld, type World } from "../helpers/chat-world.ts";
import { type ChatDriver, gist, type SeenThread, slackDriver, teamsDriver } from "../helpers/drivers.ts";
import { REDIS_URL, waitFor } from "../helpers/env.ts";

/**
 * The same conversation on Slack and on Teams: create a lab, a non-owner's
 * destroy refused, a secret rotated through the private form, a rotation
 * alert posted by another process, the destroy confirmed. Both end with the
 * same visible result.
 *
 * The jobs run the placeholder processor, so this test is about chat alone
 * and needs no cloud; test/e2e/chat-lab.test.ts runs the same path with the
 * lab workflows against the Azure and AKS emulators. Run with the workflows,
 * only EXPECTED changes (thread titles and milestone replies), and the
 * "as the create workflow does" registration below becomes a no-op.
 */
const CANARY = "canary-5c1f0e-never-shown";

/** The confirmation prompt is not in what Ada is told at the end: pressing Confirm replaced it, on both platforms. */
const EXPECTED: { threads: SeenThread[]; toldAda: string[]; toldBob: string[] } = {
  threads: [
    {
      title: "lab create team-a",
      status: "succeeded",
      replies: [
        "Placeholder step done for `lab create team-a`. The lab workflows will do the real work here.",
      ],
    },
    {
      title: "secret rotate color --lab team-a",
      status: "succeeded",
      replies: [
        "Placeholder step done for `secret rotate color --lab team-a`. The lab workflows will do the real work here.",
      ],
    },
    { title: "Secret color rotated in team-a", status: "info", replies: ["3 of 3 pods run version 2."] },
    {
      title: "lab destroy team-a",
      status: "succeeded",
      replies: [
        "Placeholder step done for `lab destroy team-a`. The lab workflows will do the real work here.",
      ],
    },
  ],
  toldAda: [
    "Queued lab create team-a (ref). Progress will appear in a thread in this channel.",
    "Queued secret rotate color --lab team-a (ref). Progress will appear in a thread in this channel.",
    "Queued lab destroy team-a (ref). Confirmed by ADA. Progress will appear in a thread in this channel.",
  ],
  toldBob: [
    "Only ADA, who created team-a, a member they granted, or an admin can destroy it. Ask them to grant you access, or ask an admin listed in LABOPS_ADMINS.",
  ],
};

/** Normalises Slack's and Teams' ways of showing a message (mrkdwn vs markdown) before comparing. */
const plain = (s: string) => s.replace(/[*`]/g, "");
const seen = (threads: SeenThread[]) =>
  threads.map((t) => ({ title: plain(t.title), status: t.status, replies: t.replies.map(plain) }));

async function runConversation(w: World, chat: ChatDriver) {
  const registry = new RedisLabRegistry(w.redis, w.prefix);
  const settled = (title: string) =>
    waitFor(
      () =>
        chat
          .threads()
          .find((t) => plain(t.title) === title && t.status === "succeeded" && t.replies.length > 0),
      `the thread of ${title} on ${chat.platform}`,
    );

  await chat.say("ada", "lab create team-a");
  await settled("lab create team-a");
  // As the create workflow does; the placeholder does not register labs.
  if (!(await registry.get("team-a"))) {
    const now = Date.now();
    await registry.create({
      name: "team-a",
      state: "ready",
      owner:
        chat.platform === "slack"
          ? { platform: "slack", id: "U0ADA", name: "ada" }
          : { platform: "teams", id: "aad-ada", name: "Ada" },
      address: chat.address,
      location: "centralus",
      createdAt: now,
      updatedAt: now,
      expiresAt: now + 8 * 3_600_000,
      outputs: {},
    } satisfies LabRecord);
  }

  await chat.say("bob", "lab destroy team-a");
  await chat.rotatePrivately("ada", "color", CANARY);
  await settled("secret rotate color --lab team-a");

  // The rotation watcher runs in another process: it builds its chat from the configuration alone.
  const redis = new Redis(REDIS_URL);
  try {
    const { router } = await createChat(w.bot.config, createLogger({ level: "silent" }), redis);
    const lab = await registry.get("team-a");
    if (!lab) throw new Error("lab team-a is not registered");
    const alert = await router.postAlert(lab.address, {
      title: "Secret color rotated in team-a",
      status: "info",
    });
    await router.reply(alert, "3 of 3 pods run version 2.");
    await router.flush();
  } finally {
    redis.disconnect();
  }

  await chat.say("ada", "lab destroy team-a");
  await chat.press("ada", "destroy.confirm");
  await settled("lab destroy team-a");
  await waitFor(
    () => chat.threads().filter((t) => t.status === "succeeded").length === 3 || undefined,
    "all threads",
  );
}

describe("the same create, rotate and destroy conversation on Slack and on Teams", () => {
  let w: World;
  const results: Record<string, { threads: SeenThread[]; ada: string[]; bob: string[]; all: string }> = {};

  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(async () => {
    await w?.close();
  });

  it.each([
    ["slack", (world: World) => slackDriver(world, "C0CONV")],
    ["teams", (world: World) => teamsDriver(world, "conversation")],
  ] as const)("runs on %s", async (platform, driver) => {
    // One platform at a time: the lab name is global, as it is in Azure.
    await w.redis.del(`${w.prefix}:lab:team-a`);
    await w.redis.zrem(`${w.prefix}:labs`, "team-a");
    const chat = driver(w);
    await runConversation(w, chat);
    results[platform] = {
      threads: seen(chat.threads()),
      ada: chat.toldTo("ada").flatMap(gist),
      bob: chat.toldTo("bob").flatMap(gist),
      all: chat.everything(),
    };
    expect(results[platform]?.threads).toEqual(seen(EXPECTED.threads));
    expect(results[platform]?.ada).toEqual(EXPECTED.toldAda);
    expect(results[platform]?.bob).toEqual(EXPECTED.toldBob);
    expect(results[platform]?.all).not.toContain(CANARY);
  });

  it("ends with the same visible result on both", () => {
    expect(results.slack).toBeDefined();
    expect(results.teams).toBeDefined();
    expect(results.teams?.threads).toEqual(results.slack?.threads);
    expect(results.teams?.ada).toEqual(results.slack?.ada);
    expect(results.teams?.bob).toEqual(results.slack?.bob);
    expect(w.slack.rateLimited()).toEqual([]);
    expect(w.teams.rateLimited()).toEqual([]);
  });
});
