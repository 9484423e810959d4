import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inMemoryTracing } from "../../adapters/otel/memory.ts";
import { RedisAuditLog } from "../../adapters/redis/audit.ts";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { type EmulatedCloud, startEmulatedCloud } from "../../emulators/world.ts";
import { startWorld, type World } from "../helpers/chat-world.ts";
import { type ChatDriver, slackDriver, teamsDriver } from "../helpers/drivers.ts";
import { waitFor } from "../helpers/env.ts";
import { dumpRedis, findCanary } from "../helpers/sinks.ts";
import { clientsFor } from "../integration/azure-emulator-helpers.ts";

/** /metrics is served behind the admin token (issue 14, finding 9). */
const CANARY_ADMIN_TOKEN = "canary-operators-token-0123456789";

const TIME_SCALE = 1_000;

interface Rotation {
  via: string;
  lab: string;
  secret: string;
  canary: string;
}

const newCanary = () => `canary-${randomBytes(16).toString("hex")}`;

/**
 * Canary values rotated through Slack (the private modal, and a command that
 * carries the value) and through Teams (the password card), into labs built
 * by the real workflows on the emulated Azure and AKS, and followed by the
 * watcher to every pod. Each must end up as the current value in its Key
 * Vault, which is the one place it belongs, and nowhere else: not in any log
 * line of any role (at debug level), not in anything either chat emulator
 * recorded, not in any Redis key or value of the installation (BullMQ jobs
 * and events, audit streams, registry, leases), not in /metrics and not in
 * the audit trail, not in any span's name, attribute, event, link or status
 * (the real OpenTelemetry SDK, every call site traced); neither in clear nor
 * hex nor base64.
 */
describe("a canary secret value rotated through Slack and Teams reaches the vault and no other sink", () => {
  let cloud: EmulatedCloud;
  let w: World;
  const rotations: Rotation[] = [];
  // Whatever an SDK prints on its own, outside our logger, is a sink too.
  const printed: string[] = [];
  const originalWrites = { out: process.stdout.write, err: process.stderr.write };
  // Every span the bot ends, as a collector behind the redacting exporter would receive it.
  const traces = inMemoryTracing("labops-canary");

  beforeAll(async () => {
    for (const [stream, original] of [
      [process.stdout, originalWrites.out],
      [process.stderr, originalWrites.err],
    ] as const) {
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        printed.push(String(chunk));
        return (original as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
      }) as typeof stream.write;
    }
    cloud = await startEmulatedCloud({ timeScale: TIME_SCALE });
    w = await startWorld({
      cloud,
      env: { LABOPS_LOG_LEVEL: "debug", LABOPS_ADMIN_TOKEN: CANARY_ADMIN_TOKEN },
      tracing: traces.tracing,
    });
  });
  afterAll(async () => {
    process.stdout.write = originalWrites.out;
    process.stderr.write = originalWrites.err;
    await w?.close();
    await cloud?.stop();
    await traces.tracing.shutdown();
  });

  async function createLab(chat: ChatDriver, lab: string): Promise<void> {
    await chat.say("ada", `lab create ${lab}`);
    await waitFor(
      () => chat.threads().find((t) => t.title.startsWith(`Lab ${lab} is ready`) && t.status === "succeeded"),
      `lab ${lab} to be ready`,
      60_000,
      50,
    );
  }

  /** The rotation job finished and the watcher followed the new version to both pods. */
  async function rotated(chat: ChatDriver, lab: string, secret: string, count: number): Promise<void> {
    await waitFor(
      async () => {
        const jobs = await w.queue.getJobs(["completed", "failed"]);
        const done = jobs.filter(
          (j) =>
            j.name === "secret.rotate" &&
            (j.data as { command: { lab?: string; secret?: string } }).command.lab === lab &&
            (j.data as { command: { secret?: string } }).command.secret === secret,
        );
        return done.length >= count || undefined;
      },
      `the rotation of ${secret} in ${lab}`,
      60_000,
      50,
    );
    const report = new RegExp(`${secret}: [0-9a-f]{8} reached 2/2 pods`, "g");
    await waitFor(
      () => (chat.everything().match(report)?.length ?? 0) >= 1 || undefined,
      `the watcher's report that ${secret} reached every pod of ${lab}`,
      60_000,
      100,
    );
  }

  it("on Slack: the rotate modal, and a command that carries the value", { timeout: 120_000 }, async () => {
    const chat = slackDriver(w, "C0CANARY");
    await createLab(chat, "can-s");

    const viaModal = { via: "slack modal", lab: "can-s", secret: "color", canary: newCanary() };
    await chat.rotatePrivately("ada", viaModal.secret, viaModal.canary);
    await rotated(chat, viaModal.lab, viaModal.secret, 1);
    rotations.push(viaModal);

    const viaCommand = {
      via: "slack command",
      lab: "can-s",
      secret: "db-connection-string",
      canary: newCanary(),
    };
    await chat.say("ada", `secret rotate ${viaCommand.secret} ${viaCommand.canary} --lab ${viaCommand.lab}`);
    await rotated(chat, viaCommand.lab, viaCommand.secret, 1);
    rotations.push(viaCommand);
  });

  it("on Teams: the password card", { timeout: 120_000 }, async () => {
    const chat = teamsDriver(w, "canary");
    await createLab(chat, "can-t");
    const viaCard = { via: "teams card", lab: "can-t", secret: "color", canary: newCanary() };
    await chat.rotatePrivately("ada", viaCard.secret, viaCard.canary);
    await rotated(chat, viaCard.lab, viaCard.secret, 1);
    rotations.push(viaCard);
  });

  it("finds every canary as the current value in its vault, and in no sink", {
    timeout: 60_000,
  }, async () => {
    expect(rotations.map((r) => r.via)).toEqual(["slack modal", "slack command", "teams card"]);

    // The one place each canary must be: the current version of its secret in the lab's vault.
    const registry = new RedisLabRegistry(w.redis, w.prefix);
    const operator = clientsFor(cloud.azure, cloud.azure.operator);
    for (const r of rotations) {
      const vaultName = (await registry.get(r.lab))?.outputs.vaultName ?? "";
      const uri = cloud.azure.world.vaultUri(vaultName);
      if (!uri) throw new Error(`no vault for ${r.lab}`);
      expect((await operator.secrets(uri).getSecret(r.secret)).value, r.via).toBe(r.canary);
    }

    // Gather every sink while the bot still runs (metrics, Redis), then stop it so every log line is written.
    const metricsRes = await fetch(`http://127.0.0.1:${w.bot.port}/metrics`, {
      headers: { authorization: `Bearer ${CANARY_ADMIN_TOKEN}` },
    });
    expect(metricsRes.status).toBe(200);
    const metrics = await metricsRes.text();
    const audit = JSON.stringify(await new RedisAuditLog(w.redis, w.prefix).recent({ limit: 1_000 }));
    const jobs = await w.queue.getJobs(["completed", "failed", "active", "waiting", "delayed"]);
    const jobText = JSON.stringify(
      await Promise.all(
        jobs.map(async (j) => ({
          data: j.data,
          returnvalue: j.returnvalue,
          failedReason: j.failedReason,
          stacktrace: j.stacktrace,
          logs: await w.queue.getJobLogs(j.id ?? ""),
        })),
      ),
    );
    const redis = await dumpRedis(w.redis, w.prefix);
    await w.bot.stop();
    const sinks: Record<string, string> = {
      logs: w.logs.text(),
      printed: printed.join(""),
      slack: slackDriver(w, "C0CANARY").everything(),
      teams: teamsDriver(w, "canary").everything(),
      redis,
      jobs: jobText,
      audit,
      metrics,
      spans: JSON.stringify(
        traces.spans().map((s) => ({
          name: s.name,
          attributes: s.attributes,
          events: s.events.map((e) => ({ name: e.name, attributes: e.attributes })),
          links: s.links.map((l) => l.attributes),
          status: s.status,
        })),
      ),
    };

    // Each sink really holds what it should, so an empty search means something.
    // Every role wrote its lines: web (intake), worker (steps, jobs), watcher (the traces).
    const logged = new Set(w.logs.entries().map((e) => e.msg));
    for (const msg of ["command.queued", "step.finished", "job.completed", "watcher.rotation_completed"]) {
      expect(logged, msg).toContain(msg);
    }
    expect(sinks.logs).toMatch(/can-s/);
    expect(sinks.slack).toMatch(/reached 2\/2 pods/);
    expect(sinks.teams).toMatch(/reached 2\/2 pods/);
    expect(sinks.redis).toMatch(/secret\.rotate/);
    expect(sinks.redis).toMatch(/:events /);
    expect(jobs.filter((j) => j.name === "secret.rotate")).toHaveLength(3);
    expect(sinks.audit).toMatch(/secret rotate color --lab can-t/);
    expect(sinks.metrics).toMatch(/^labops_/m);
    // The rotations were traced down to the vault write: the spans sink saw where the values went.
    for (const name of ['"labops.job secret.rotate"', '"SecretClient.setSecret"', '"HTTP PUT"']) {
      expect(sinks.spans, name).toContain(name);
    }
    expect(sinks.spans).toContain('"labops.delivery.kind":"view"');

    const hits = Object.entries(sinks).flatMap(([sink, text]) =>
      rotations.flatMap((r) => findCanary(text, r.canary).map((hit) => `${sink} (${r.via}) ${hit}`)),
    );
    expect(hits).toEqual([]);
  });

  it("would find a canary that did get into a sink, in clear, hex or base64", async () => {
    const canary = newCanary();
    const control = `${w.prefix}:canary-control`;
    for (const [i, planted] of [
      canary,
      Buffer.from(canary).toString("hex"),
      Buffer.from(`x${canary}`).toString("base64"),
      Buffer.from(`xy${canary}`).toString("base64url"),
      Buffer.from(`{"value":"${canary}"}`).toString("base64"),
    ].entries()) {
      await w.redis.del(control);
      await w.redis.xadd(control, "*", "entry", `before ${planted} after`);
      expect(findCanary(await dumpRedis(w.redis, w.prefix), canary), `planted form ${i}`).not.toEqual([]);
    }
    await w.redis.del(control);
    expect(findCanary(await dumpRedis(w.redis, w.prefix), canary)).toEqual([]);
  });
});
