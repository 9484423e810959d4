import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { startWorld, type World } from "../helpers/chat-world.ts";
import { slackDriver } from "../helpers/drivers.ts";
import { waitFor } from "../helpers/env.ts";
import { labRecord } from "../helpers/lab-record.ts";

/** SLACK_APP_TOKEN set: Bolt's SocketModeReceiver connects out to the emulator's WebSocket; nothing is POSTed to the bot. */
describe("Slack over Socket Mode", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ socketMode: true, teams: false });
  });
  afterAll(async () => {
    await w?.close();
  });

  it("connects with the app token through apps.connections.open", () => {
    expect(w.slack.socket.connections).toBe(1);
    const open = w.slack.calls.find((c) => c.method === "apps.connections.open");
    expect(open?.status).toBe(200);
    expect(open?.error).toBeUndefined();
    expect(w.bot.config.slack?.appToken).toMatch(/^xapp-/);
  });

  it("takes a slash command as an envelope, acks it with the answer, and runs the job", async () => {
    const slack = slackDriver(w, "C0SOCK");
    const ada = w.slack.as("U0ADA", "ada");
    const delivery = await ada.slash("/lab", "create sock-a", { channel: "C0SOCK" });
    expect(delivery.via).toBe("socket");
    expect(String(delivery.body?.text)).toMatch(/^Queued `lab create sock-a`/);
    expect(
      ada.conversation("C0SOCK").some((m) => m.ephemeral && m.text.startsWith("Queued `lab create sock-a`")),
    ).toBe(true);
    await waitFor(
      () =>
        slack
          .threads()
          .find((t) => t.title === "lab create sock-a" && t.status === "succeeded" && t.replies.length === 1),
      "the job's thread",
    );
    expect(w.slack.socket.sent.map((e) => e.type)).toContain("slash_commands");
  });

  it("carries button presses and modal submissions over the socket too", async () => {
    await new RedisLabRegistry(w.redis, w.prefix).create(
      labRecord(
        "sock-b",
        { platform: "slack", id: "U0ADA" },
        { platform: "slack", tenant: "T0001", channel: "C0SOCK" },
      ),
    );
    const slack = slackDriver(w, "C0SOCK");
    await slack.rotatePrivately("ada", "color", "socket-value-1");
    await slack.say("ada", "lab destroy sock-b");
    await slack.press("ada", "destroy.confirm");
    await waitFor(
      () => slack.threads().find((t) => t.title === "lab destroy sock-b" && t.status === "succeeded"),
      "the destroy",
    );
    expect(
      slack.toldTo("ada").some((t) => /Queued `lab destroy sock-b`.*Confirmed by <@U0ADA>/.test(t)),
    ).toBe(true);
    const types = w.slack.socket.sent.map((e) => e.type);
    expect(types.filter((t) => t === "interactive").length).toBeGreaterThanOrEqual(2);
  });

  it("counts an envelope Slack sends again (retry_attempt) once", async () => {
    const ada = w.slack.as("U0ADA", "ada");
    const before = await w.jobCount();
    const first = await ada.mention("C0SOCK", "<@U0BOT> lab list");
    expect(first.via).toBe("socket");
    await waitFor(async () => (await w.jobCount()) === before + 1 || undefined, "the mention's job");
    const retry = await first.replay({ retryNum: 1 });
    expect(retry.status).toBe(200);
    expect(await w.jobCount()).toBe(before + 1);
  });
});
