import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLeases } from "../../adapters/redis/leases.ts";
import { RedisWatchStateStore } from "../../adapters/redis/watcher.ts";
import { type Running, startLabops } from "../../app/main.ts";
import { createLogger } from "../../src/log.ts";
import { type Metrics, NO_METRICS } from "../../src/ports/metrics.ts";
import { type BotWorld, cardOf, slackChannel, startBotWorld } from "../helpers/bot-world.ts";
import { LogCapture, waitFor } from "../helpers/env.ts";
import { CSI_DRIVER_RELEASES } from "../helpers/world.ts";

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
const HOPS = /reached 2\/2 pods in [\d.hms]+ \(synced \+[\d.hms]+, rollout \+[\d.hms]+, ready \+[\d.hms]+\)/;

// Under each CSI driver release the AKS emulator models (the watcher relies on no rotation event).
const SUITE = "rotation watcher: every vault change traced to every pod, told once (CSI driver %s)";

describe.each(CSI_DRIVER_RELEASES)(SUITE, (csiDriver) => {
  let w: BotWorld;
  let watcher: Running | undefined;
  const { say, rootsTitled, replies } = slackChannel(() => w, CHANNEL);
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
      env: w.world.env({ LABOPS_ROLE: "watcher", LABOPS_LOG_LEVEL: "debug" }),
      logger: createLogger({ level: "debug", destination: watcherLogs }),
      metrics,
    });

  beforeAll(async () => {
    w = await startBotWorld(TIME_SCALE, { env: { LABOPS_ROLE: "web,worker" }, csiDriver });
    watcher = await startWatcherRole();
  });

  afterAll(async () => {
    await watcher?.stop();
    await w?.stop();
  });

  const vaultName = async () => (await w.registry.get(LAB))?.outputs.vaultName ?? "";

  it("creates the lab the watcher then follows", { timeout: 90_000 }, async () => {
    await say("/lab", `create ${LAB} --ttl 7d`);
    await waitFor(
      async () => ((await w.registry.get(LAB))?.state === "ready" ? true : undefined),
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
    // It names the CSI driver's rotation it saw: the reconciler's events (1.5) or none (1.6's republish).
    expect(card).toContain(
      csiDriver === "1.5" ? "rotation reconciler" : "rotation on the kubelet's republish",
    );
    expect(card).toMatch(/synced \+[\d.hms]+ · reloaded \+[\d.hms]+ · rollout \+[\d.hms]+ · ready/);
    expect(card).toMatch(/Old pods/);
    expect(card).toMatch(/New pods/);
    expect(card).not.toContain("orange");
    // No second thread: the completion went where the command was.
    expect(rootsTitled(/Rotation/)).toHaveLength(1);
    // The watcher counts the completion once its reply and card are out and the alert is marked
    // posted: the card can be seen here a moment before the count is taken.
    await waitFor(
      () => (recorded.includes("finished:completed") ? true : undefined),
      "the completion counted",
    );
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
    await w.world.cloud.azure.writeSecretAsOperator(await vaultName(), "color", CANARY);
    const alert = await waitFor(
      () => rootsTitled(/^Rotation traced: color in team-w/).at(-1),
      "the outside rotation's alert",
      30_000,
    );
    expect(alert.text).toMatch(HOPS);
    expect(alert.text).toMatch(/Changed outside labops/);
    const card = cardOf(alert);
    expect(card).toMatch(/ready \+[\d.hms]+ · mounted \+/);
    expect(card).toMatch(/New pods\*\\n`podinfo-csi-[a-z0-9]+-[a-z0-9]+`, `podinfo-csi-/);
    expect(rootsTitled(/Rotation/)).toHaveLength(2);
    // The value reached the pods and nothing else: not the chat, not the watcher's logs (at debug), not Redis.
    expect(JSON.stringify(w.world.slack.messages)).not.toContain(CANARY);
    expect(watcherLogs.text()).not.toContain(CANARY);
    expect(await w.dumpRedis()).not.toContain(CANARY);
  });

  it("notes a new secret no pod mounts, once, and moves on", { timeout: 60_000 }, async () => {
    await w.world.cloud.azure.writeSecretAsOperator(await vaultName(), "api-token", "not-used-by-podinfo");
    const alert = await waitFor(
      () => rootsTitled(/^Rotation traced: api-token in team-w/).at(-1),
      "the note about the unmounted secret",
      30_000,
    );
    expect(alert.text).toMatch(/api-token: [0-9a-f]{8} is not mounted by any pod: nothing to roll/);
    expect(alert.text).toMatch(/Changed outside labops/);
  });

  it("does not say it again after the watcher restarts", { timeout: 60_000 }, async () => {
    const before = w.world.slack.messages.length;
    const traced = rootsTitled(/^Rotation traced/).length;
    await watcher?.stop();
    // A clean stop hands the lab back at once: no waiting for the lease to lapse.
    expect(await new RedisLeases(w.redis, w.prefix, "watch:lease").holder(LAB)).toBeUndefined();
    watcherLogs.lines.length = 0;
    watcher = await startWatcherRole();
    await waitFor(
      () => (watcherLogs.text().includes('"msg":"watcher.lab_started"') ? true : undefined),
      "the restarted watcher to take the lab",
      20_000,
    );
    // A new rotation after the restart: once its alert is out, the restarted watcher has listed the
    // cluster and polled the vault, and said nothing about the rotations it inherited.
    await w.world.cloud.azure.writeSecretAsOperator(await vaultName(), "color", "teal");
    await waitFor(
      () => (rootsTitled(/^Rotation traced/).length === traced + 1 ? true : undefined),
      "the new alert",
      30_000,
    );
    const since = w.world.slack.messages.slice(before);
    expect(since.map((m) => m.text)).toEqual([expect.stringMatching(/^Rotation traced: color in team-w/)]);
    expect(watcherLogs.text().match(/"msg":"watcher.trace_started"/g)).toHaveLength(1);
  });

  it("lets the lab go when it is destroyed, and forgets its state", { timeout: 60_000 }, async () => {
    const store = new RedisWatchStateStore(w.redis, w.prefix);
    expect(await store.load(LAB)).toBeDefined();
    await say("/lab", `destroy ${LAB} --yes`);
    await waitFor(
      async () => ((await w.registry.get(LAB)) === undefined ? true : undefined),
      "the destroy",
      30_000,
    );
    await waitFor(
      async () => ((await store.load(LAB)) === undefined ? true : undefined),
      "the state to go",
      10_000,
    );
    expect(await new RedisLeases(w.redis, w.prefix, "watch:lease").holder(LAB)).toBeUndefined();
    expect(watcherLogs.text()).toContain('"msg":"watcher.lab_stopped"');
  });
});
