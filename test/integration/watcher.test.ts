import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { RedisLeases, RedisWatchStateStore } from "../../adapters/redis/watcher.ts";
import { SlackRequestClient } from "../../emulators/slack/client.ts";
import type { SlackMessage } from "../../emulators/slack/web-api.ts";
import { createLogger } from "../../src/log.ts";
import { type Running, startLabops } from "../../src/main.ts";
import { type Metrics, NO_METRICS } from "../../src/ports/metrics.ts";
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
const CANARY = "canary-7d41e9-never-shown";
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
  const recorded: string[] = [];
  const metrics: Metrics = {
    ...NO_METRICS,
    rotationHop: (hop) => recorded.push(`hop:${hop}`),
    rotationFinished: (outcome) => recorded.push(`finished:${outcome}`),
    alertPosted: (kind) => recorded.push(`alert:${kind}`),
  };

  const startWatcherRole = () =>
    startLabops({
      env: world.env({ LABOPS_ROLE: "watcher", LABOPS_LOG_LEVEL: "debug" }),
      logger: createLogger({ level: "debug", destination: watcherLogs }),
      metrics,
    });
  const prefix = () => String(world.env().LABOPS_REDIS_PREFIX);

  /** Everything under the test's prefix, as text (strings, hashes, lists, sets, sorted sets, streams). */
  async function dumpRedis(): Promise<string> {
    const out: string[] = [];
    for (const key of await redis.keys(`${prefix()}:*`)) {
      const type = await redis.type(key);
      if (type === "string") out.push(String(await redis.get(key)));
      else if (type === "hash") out.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === "list") out.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === "set") out.push(JSON.stringify(await redis.smembers(key)));
      else if (type === "zset") out.push(JSON.stringify(await redis.zrange(key, "0", "-1")));
      else if (type === "stream") out.push(JSON.stringify(await redis.xrange(key, "-", "+")));
    }
    return out.join("\n");
  }

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
    expect(recorded).toEqual(
      expect.arrayContaining([
        "hop:synced",
        "hop:reloaded",
        "hop:rollout",
        "hop:ready",
        "hop:mounted",
        "alert:rotation",
        "finished:completed",
      ]),
    );
  });

  it("traces a version written outside labops the same way, and says so", { timeout: 60_000 }, async () => {
    await world.cloud.azure.writeSecretAsOperator(await vaultName(), "color", CANARY);
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
    expect(rootsTitled(/Rotation/)).toHaveLength(2);
    // The value reached the pods and nothing else: not the chat, not the watcher's logs (at debug), not Redis.
    expect(JSON.stringify(world.slack.messages)).not.toContain(CANARY);
    expect(watcherLogs.text()).not.toContain(CANARY);
    expect(await dumpRedis()).not.toContain(CANARY);
  });

  it("notes a new secret no pod mounts, once, and moves on", { timeout: 60_000 }, async () => {
    await world.cloud.azure.writeSecretAsOperator(await vaultName(), "api-token", "not-used-by-podinfo");
    const alert = await waitFor(
      () => rootsTitled(/^Rotation traced: api-token in team-w/).at(-1),
      "the note about the unmounted secret",
      30_000,
    );
    expect(alert.text).toMatch(/api-token: [0-9a-f]{8} is not mounted by any pod: nothing to roll/);
    expect(alert.text).toMatch(/Changed outside labops/);
  });

  it("does not say it again after the watcher restarts", { timeout: 60_000 }, async () => {
    const before = world.slack.messages.length;
    const traced = rootsTitled(/^Rotation traced/).length;
    await watcher?.stop();
    // A clean stop hands the lab back at once: no waiting for the lease to lapse.
    expect(await new RedisLeases(redis, prefix()).holder(LAB)).toBeUndefined();
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
      () => (rootsTitled(/^Rotation traced/).length === traced + 1 ? true : undefined),
      "the new alert",
      30_000,
    );
    const since = world.slack.messages.slice(before);
    expect(since.map((m) => m.text)).toEqual([expect.stringMatching(/^Rotation traced: color in team-w/)]);
    expect(watcherLogs.text().match(/"msg":"watcher.trace_started"/g)).toHaveLength(1);
  });

  it("lets the lab go when it is destroyed, and forgets its state", { timeout: 60_000 }, async () => {
    const store = new RedisWatchStateStore(redis, prefix());
    expect(await store.load(LAB)).toBeDefined();
    await say("/lab", `destroy ${LAB} --yes`);
    await waitFor(
      async () => ((await registry.get(LAB)) === undefined ? true : undefined),
      "the destroy",
      30_000,
    );
    await waitFor(
      async () => ((await store.load(LAB)) === undefined ? true : undefined),
      "the state to go",
      10_000,
    );
    expect(await new RedisLeases(redis, prefix()).holder(LAB)).toBeUndefined();
    expect(watcherLogs.text()).toContain('"msg":"watcher.lab_stopped"');
  });
});
