import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { fromWire, type WireEnvelope } from "../../src/commands/envelope.ts";
import type { SecretValue } from "../../src/secret-value.ts";
import { startWorld, type World } from "../helpers/chat-world.ts";
import { type ChatDriver, slackDriver, teamsDriver } from "../helpers/drivers.ts";
import { waitFor } from "../helpers/env.ts";
import { labRecord } from "../helpers/lab-record.ts";
import { dumpRedis } from "../helpers/sinks.ts";

/**
 * `secret rotate NAME` without a value: Slack opens a modal, Teams shows a
 * password card. Slack runs over Socket Mode here, whose client logs every
 * raw envelope at debug level. The value goes to the worker sealed; a canary value is then
 * searched for in every sink: logs (at debug level), Redis (jobs, audit,
 * everything else), and everything either platform shows or recorded.
 */
describe("a value typed privately never appears in clear", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ socketMode: true, env: { LABOPS_LOG_LEVEL: "debug" } });
  });
  afterAll(async () => {
    await w?.close();
  });

  it.each([
    ["slack", (world: World) => slackDriver(world, "C0PRIV"), "canary-slack-7d1e2f"],
    ["teams", (world: World) => teamsDriver(world, "private")],
  ] as const)("on %s", async (platform, driver, canaryGiven?: string) => {
    const canary = canaryGiven ?? "canary-teams-9a3b4c";
    const chat: ChatDriver = driver(w);
    const owner =
      platform === "slack"
        ? { platform: "slack" as const, id: "U0ADA" }
        : { platform: "teams" as const, id: "aad-ada" };
    const lab = `priv-${platform}`;
    await new RedisLabRegistry(w.redis, w.prefix).create(labRecord(lab, owner, chat.address));

    await chat.rotatePrivately("ada", "color", canary);
    const job = await waitFor(async () => {
      const jobs = await w.queue.getJobs(["waiting", "active", "completed"]);
      return jobs.find(
        (j) => j.name === "secret.rotate" && (j.data as WireEnvelope).origin.address.platform === platform,
      );
    }, "the rotate job");

    // The worker gets the value, as a SecretValue, from the sealed job data.
    const envelope = fromWire(job.data as WireEnvelope, w.bot.config.secretKey);
    expect(envelope.command).toMatchObject({ kind: "secret.rotate", secret: "color", lab });
    const value = (envelope.command as { value?: SecretValue }).value;
    expect(value?.reveal()).toBe(canary);
    expect(JSON.stringify(envelope)).not.toContain(canary);

    await waitFor(
      () => chat.threads().find((t) => t.title.includes("secret rotate color") && t.status === "succeeded"),
      "the thread",
    );
    await w.bot.stop().catch(() => undefined);
    expect(w.logs.lines.length).toBeGreaterThan(0);
    expect(w.logs.text()).not.toContain(canary);
    expect(await dumpRedis(w.redis, w.prefix)).not.toContain(canary);
    expect(chat.everything()).not.toContain(canary);
    expect(chat.toldTo("ada").join("\n")).toMatch(/Queued `?secret rotate color --lab priv-/);
    // The bot is stopped between platforms; start it again for the next one.
    const again = await startWorld({ socketMode: true, env: { LABOPS_LOG_LEVEL: "debug" } });
    await w.close();
    w = again;
  });
});
