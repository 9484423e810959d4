import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { SlackRequestClient } from "../../emulators/slack/client.ts";
import type { SlackMessage } from "../../emulators/slack/web-api.ts";
import { createLogger } from "../../src/log.ts";
import { type Running, startLabops } from "../../src/main.ts";
import { LogCapture, REDIS_URL, TEST_SIGNING_SECRET, waitFor } from "../helpers/env.ts";
import { startTestWorld, type TestWorld } from "../helpers/world.ts";

/**
 * The rotation watcher against the emulators, through the real bot: a lab
 * created by command, then rotations made through labops and behind its back,
 * each traced hop by hop to every pod and told once, in the right thread.
 * The watcher runs as its own process role, so that it can be restarted.
 */
const TIME_SCALE = 600;
const CHANNEL = "C0WATCH";
const LAB = "team-w";
const HOPS = /reached 2\/2 pods in [\d.ms]+ \(synced \+[\d.ms]+, rollout \+[\d.ms]+, ready \+[\d.ms]+\)/;

describe("rotation watcher: every vault change traced to every pod, told once", () => {
  let world: TestWorld;
  let bot: Running;
  let watcher: Running | undefined;
  let slack: SlackRequestClient;
  let redis: Redis;
  let registry: RedisLabRegistry;
  const logs = new LogCapture();
  const watcherLogs = new LogCapture();

  const startWatcherRole = () =>
    startLabops({
      env: world.env({ LABOPS_ROLE: "watcher" }),
      logger: createLogger({ level: "info", destination: watcherLogs }),
    });

  beforeAll(async () => {
    world = await startTestWorld(TIME_SCALE);
    bot = await startLabops({
      env: world.env({ LABOPS_ROLE: "web,worker" }),
      logger: createLogger({ level: "info", destination: logs }),
      host: "127.0.0.1",
    });
    watcher = await startWatcherRole();
    slack = new SlackRequestClient(`http://127.0.0.1:${bot.port}/slack/events`, TEST_SIGNING_SECRET);
    redis = new Redis(REDIS_URL);
    registry = new RedisLabRegistry(redis, String(world.env().LABOPS_REDIS_PREFIX));
  });

  afterAll(async () => {
    await watcher?.stop();
    await bot?.stop();
    const keys = await redis.keys(`${String(world.env().LABOPS_REDIS_PREFIX)}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis?.disconnect();
    await world?.stop();
  });

  const say = async (command: "/lab" | "/secret", text: string) => {
    const res = await slack.slashCommand({ command, text, channel: CHANNEL, user: "U0ADA", userName: "ada" });
    expect(res.status).toBe(200);
  };
  const roots = () =>
    world.slack.messages.filter((m) => m.channel === CHANNEL && !m.threadTs && !m.ephemeral);
  const rootsTitled = (pattern: RegExp) => roots().filter((m) => pattern.test(m.text));
  const replies = (root: SlackMessage) => world.slack.messages.filter((m) => m.threadTs === root.ts);
  const cardOf = (m: SlackMessage) => JSON.stringify(m.blocks ?? []);
  const vaultName = async () => (await registry.get(LAB))?.outputs.vaultName ?? "";

  it("creates the lab the watcher then follows", { timeout: 90_000 }, async () => {
    await say("/lab", `create ${LAB} --ttl 7d`);
    await waitFor(
      async () => ((await registry.get(LAB))?.state === "ready" ? true : undefined),
      "the lab to be ready",
      60_000,
      50,
    );
    // Its lease is taken and the first vault poll is the baseline: nothing to say yet.
    await waitFor(
      () => (watcherLogs.text().includes('"msg":"watcher.lab_started"') ? true : undefined),
      "the watcher to take the lab",
      20_000,
    );
    expect(rootsTitled(/Rotation/)).toEqual([]);
  });

  it("finishes the rotate command's own thread with every hop's time", { timeout: 60_000 }, async () => {
    await say("/secret", `rotate color orange --lab ${LAB}`);
    const thread = await waitFor(() => rootsTitled(/^Rotation: color in team-w/).at(-1), "the rotate thread");
    const summary = await waitFor(
      () => replies(thread).find((m) => HOPS.test(m.text)),
      "the completion in the rotate thread",
      30_000,
    );
    expect(summary.text).toMatch(/^color: [0-9a-f]{8} reached 2\/2 pods in/);
    await waitFor(() => (/reached 2\/2 pods/.test(thread.text) ? true : undefined), "the card to finish");
    const card = cardOf(thread);
    expect(card).toMatch(/Changed by ada through labops/);
    expect(card).toMatch(/synced \+[\d.ms]+ · reloaded \+[\d.ms]+ · rollout \+[\d.ms]+ · ready/);
    expect(card).toMatch(/Old pods/);
    expect(card).toMatch(/New pods/);
    expect(card).not.toContain("orange");
    // No second thread: the completion went where the command was.
    expect(rootsTitled(/Rotation/)).toHaveLength(1);
  });

  it("traces a version written outside labops the same way, and says so", { timeout: 60_000 }, async () => {
    await world.cloud.azure.writeSecretAsOperator(await vaultName(), "color", "purple");
    const alert = await waitFor(
      () => rootsTitled(/^Rotation traced: color in team-w/).at(-1),
      "the outside rotation's alert",
      30_000,
    );
    expect(alert.text).toMatch(HOPS);
    expect(alert.text).toMatch(/Changed outside labops/);
    const card = cardOf(alert);
    expect(card).toMatch(/ready \+[\d.ms]+ · mounted \+/);
    expect(card).toMatch(/New pods\*\\n`podinfo-csi-[a-z0-9]+-[a-z0-9]+`, `podinfo-csi-/);
    expect(card).not.toContain("purple");
    expect(rootsTitled(/Rotation/)).toHaveLength(2);
  });

  it("does not say it again after the watcher restarts", { timeout: 60_000 }, async () => {
    const before = world.slack.messages.length;
    await watcher?.stop();
    watcherLogs.lines.length = 0;
    watcher = await startWatcherRole();
    await waitFor(
      () => (watcherLogs.text().includes('"msg":"watcher.lab_started"') ? true : undefined),
      "the restarted watcher to take the lab",
      20_000,
    );
    // A new rotation after the restart: once its alert is out, the restarted watcher has listed the
    // cluster and polled the vault, and said nothing about the rotations it inherited.
    await world.cloud.azure.writeSecretAsOperator(await vaultName(), "color", "teal");
    await waitFor(
      () => (rootsTitled(/^Rotation traced/).length === 2 ? true : undefined),
      "the new alert",
      30_000,
    );
    const since = world.slack.messages.slice(before);
    expect(since.map((m) => m.text)).toEqual([expect.stringMatching(/^Rotation traced: color in team-w/)]);
    expect(watcherLogs.text().match(/"msg":"watcher.trace_started"/g)).toHaveLength(1);
  });
});
