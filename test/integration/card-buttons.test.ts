import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { createChat } from "../../app/main.ts";
import type { WireEnvelope } from "../../src/commands/envelope.ts";
import { createLogger } from "../../src/log.ts";
import type { ThreadRef } from "../../src/ports/chat.ts";
import { startWorld, type World } from "../helpers/chat-world.ts";
import { type ChatDriver, slackDriver, teamsDriver } from "../helpers/drivers.ts";
import { REDIS_URL, waitFor } from "../helpers/env.ts";
import { labRecord } from "../helpers/lab-record.ts";

/**
 * The buttons of a lab's status card, as the create workflow posts them:
 * Retry on a failed lab, Extend on a ready one. A press becomes a command,
 * checked like a typed one, and carries the card's thread so the job
 * continues there.
 */
describe("status card buttons on Slack and Teams", () => {
  let w: World;
  let redis: Redis;
  beforeAll(async () => {
    w = await startWorld();
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    redis?.disconnect();
    await w?.close();
  });

  const jobsOf = async (kind: string, lab: string) =>
    (await w.queue.getJobs(["waiting", "active", "completed", "failed"]))
      .map((j) => j.data as WireEnvelope)
      .filter((d) => d.command.kind === kind && "lab" in d.command && d.command.lab === lab);

  it.each([
    ["slack", (world: World) => slackDriver(world, "C0BUTTONS")],
    ["teams", (world: World) => teamsDriver(world, "buttons")],
  ] as const)("retry and extend on %s", async (platform, driver) => {
    const chat: ChatDriver = driver(w);
    const lab = `btn-${platform}`;
    const owner = platform === "slack" ? { platform, id: "U0ADA" } : { platform, id: "aad-ada", name: "Ada" };
    // Teams posts only where it has heard from: Ada writes there first, as she would have created the lab.
    if (platform === "teams") await chat.say("ada", "help");
    await new RedisLabRegistry(w.redis, w.prefix).create(labRecord(lab, owner, chat.address, "failed"));
    const { router } = await createChat(w.bot.config, createLogger({ level: "silent" }), redis);
    const card: ThreadRef = await router.openThread(chat.address, {
      title: `Lab ${lab}: create failed at aks`,
      status: "failed",
      actions: [
        { kind: "button", id: "lab.retry", label: "Retry", value: lab, style: "primary" },
        { kind: "button", id: "lab.extend", label: "Extend 4h", value: lab },
        { kind: "link", label: "Open in Azure portal", url: "https://portal.azure.com/#@t/resource/x" },
      ],
    });

    await chat.press("bob", "lab.retry");
    await chat.press("ada", "lab.retry");
    const retried = await waitFor(async () => (await jobsOf("lab.create", lab))[0], "the retry job");
    expect(retried.origin.thread).toMatchObject({ threadId: card.threadId, cardId: card.cardId });
    expect(retried.origin.user.id).toBe(owner.id);
    expect(await jobsOf("lab.create", lab)).toHaveLength(1);

    await chat.press("ada", "lab.extend");
    await waitFor(async () => (await jobsOf("lab.extend", lab)).length === 1 || undefined, "the extend job");
    expect(chat.toldTo("bob").join("\n")).toMatch(/Only .*who created `?btn-/);
  });

  it.each([
    ["slack", (world: World) => slackDriver(world, "C0BUTTONS2")],
    ["teams", (world: World) => teamsDriver(world, "buttons2")],
  ] as const)("a Rotate button opens the private form on %s", async (platform, driver) => {
    const chat: ChatDriver = driver(w);
    const lab = `rot-${platform}`;
    const owner = platform === "slack" ? { platform, id: "U0ADA" } : { platform, id: "aad-ada", name: "Ada" };
    if (platform === "teams") await chat.say("ada", "help");
    await new RedisLabRegistry(w.redis, w.prefix).create(labRecord(lab, owner, chat.address, "ready"));
    const { router } = await createChat(w.bot.config, createLogger({ level: "silent" }), redis);
    await router.openThread(chat.address, {
      title: `Lab ${lab} is ready`,
      status: "succeeded",
      actions: [{ kind: "button", id: "secret.rotate.open", label: "Rotate color", value: `color|${lab}` }],
    });
    await chat.press("ada", "secret.rotate.open");
    if (platform === "slack") {
      const view = await waitFor(() => w.slack.as("U0ADA").openViews().at(-1), "the modal");
      expect(JSON.parse(String(view.view.private_metadata))).toMatchObject({ secret: "color", lab });
    } else {
      // The form follows the invoke's response, as a reply in the card's thread.
      const form = await w.teams.tenant.waitFor(
        (m) => m.from.role === "bot" && JSON.stringify(m.attachments).includes("secret.rotate.submit"),
      );
      expect(form.conversationId).toBe(w.teams.channel("buttons2"));
      expect(form.threadRootId).toBeDefined();
    }
  });
});
