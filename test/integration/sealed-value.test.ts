import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedis } from "../../jobs/connection.ts";
import type { WorkflowDeps } from "../../jobs/processors/deps.ts";
import { secretRotateProcessor } from "../../jobs/processors/secret-rotate.ts";
import { BullCommandQueue } from "../../jobs/queue.ts";
import { type CommandWorker, startCommandWorker } from "../../jobs/worker.ts";
import { systemClock } from "../../src/clock.ts";
import type { WireEnvelope } from "../../src/commands/envelope.ts";
import { fingerprint, fingerprintKey } from "../../src/crypto.ts";
import { ExternalError } from "../../src/errors.ts";
import { createLogger } from "../../src/log.ts";
import type { KeyVaultPort, SecretVersionInfo } from "../../src/ports/azure.ts";
import { NO_METRICS } from "../../src/ports/metrics.ts";
import type { RotationThread } from "../../src/ports/watcher.ts";
import { SecretValue } from "../../src/secret-value.ts";
import { RecordingChat } from "../fakes/chat.ts";
import { MemoryLabRegistry } from "../fakes/registry.ts";
import { MemoryRotationThreads } from "../fakes/watcher.ts";
import { REDIS_URL, uniquePrefix, waitFor } from "../helpers/env.ts";
import { labRecord } from "../helpers/lab-record.ts";
import { dropPrefix, dumpRedis, findCanary } from "../helpers/sinks.ts";

/** Key Vault behind its port: the versions written, in memory. */
class MemoryKeyVault implements Pick<KeyVaultPort, "setSecret" | "currentVersion"> {
  readonly writes: Array<{ name: string; version: string }> = [];
  async setSecret(_vault: string, name: string, _value: SecretValue, tags: Record<string, string>) {
    const version = `v${String(this.writes.length + 1).padStart(31, "0")}`;
    this.writes.push({ name, version });
    return { name, version, enabled: true, createdOn: 1, updatedOn: 1, tags } satisfies SecretVersionInfo;
  }
  async currentVersion(): Promise<SecretVersionInfo | undefined> {
    return undefined;
  }
}

/**
 * Issue 14, finding 9: a rotation's value travels to the worker sealed in the
 * job; once it is in Key Vault the job keeps no copy of it. The write that
 * records the new version also drops the sealed value, so a job that resumes
 * after that point (its worker died, a later step failed) follows the written
 * version and never writes again.
 */
describe("the sealed value leaves the job once it is written", () => {
  const prefix = uniquePrefix("sealed");
  const secretKey = Buffer.alloc(32, 3);
  const CANARY = "SealedCanary-5e1d";
  let connection: Redis;
  let producer: Redis;
  let queue: BullCommandQueue;
  let worker: CommandWorker;
  const vault = new MemoryKeyVault();
  const registry = new MemoryLabRegistry();
  const threads = new MemoryRotationThreads();
  let failRegisterOnce = true;
  let registerCalls = 0;

  beforeAll(async () => {
    connection = createRedis(REDIS_URL, "worker");
    producer = createRedis(REDIS_URL, "client");
    queue = new BullCommandQueue({ connection: producer, prefix, secretKey });
    await registry.create({
      ...labRecord(
        "sealed-a",
        { platform: "slack", id: "U0ADA" },
        { platform: "slack", tenant: "T1", channel: "C1" },
      ),
      outputs: { vaultUri: "https://kv-sealed.vault.example/" },
    });
    // The hand-off to the watcher fails once, after the write: the job is retried from its checkpoint.
    const register = threads.register.bind(threads);
    threads.register = async (entry: RotationThread) => {
      registerCalls += 1;
      if (failRegisterOnce) {
        failRegisterOnce = false;
        throw new ExternalError("redis", "Unavailable", "Redis is away.", { retryable: true });
      }
      return register(entry);
    };
    // Only what a rotation reaches is given; the rest of the workflows' ports are never called here.
    const deps = {
      keyVault: vault,
      registry,
      rotationThreads: threads,
      metrics: NO_METRICS,
      settings: { rotationPollInterval: "2m", replicas: 2 },
      fingerprintKey: fingerprintKey(secretKey),
      clock: systemClock(),
    } as unknown as WorkflowDeps;
    worker = startCommandWorker({
      connection,
      prefix,
      secretKey,
      chat: new RecordingChat(),
      logger: createLogger({ level: "silent" }),
      clock: systemClock(),
      processors: { "secret.rotate": secretRotateProcessor(deps) },
      fallback: async () => undefined,
    });
  });
  afterAll(async () => {
    await worker?.close(1_000);
    await queue?.close();
    await dropPrefix(producer, prefix);
    connection?.disconnect();
  });

  it("drops the sealed value with the version's checkpoint, and a retry does not write again", {
    timeout: 20_000,
  }, async () => {
    const { jobId } = await queue.enqueue({
      deliveryId: "slack.T1.sealed-1",
      correlationId: "c-000000000001",
      command: { kind: "secret.rotate", secret: "color", value: new SecretValue(CANARY), lab: "sealed-a" },
      origin: {
        address: { platform: "slack", tenant: "T1", channel: "C1" },
        user: { platform: "slack", id: "U0ADA" },
      },
      receivedAt: Date.now(),
    });
    const queued = (await queue.queue.getJob(jobId))?.data as WireEnvelope;
    expect(queued.command.kind === "secret.rotate" && queued.command.sealedValue).toMatch(/^v1\./);

    const done = await waitFor(
      async () => {
        const job = await queue.queue.getJob(jobId);
        return (await job?.isCompleted()) ? job : undefined;
      },
      "the rotation job to complete",
      15_000,
    );
    // Two attempts reached the hand-off: the first wrote, the second resumed after the write.
    expect(registerCalls).toBe(2);
    expect(vault.writes).toHaveLength(1);
    expect(done.data.command).not.toHaveProperty("sealedValue");
    expect((done.data as WireEnvelope & { saved?: unknown }).saved).toMatchObject({
      version: vault.writes[0]?.version,
      fingerprint: fingerprint(CANARY, fingerprintKey(secretKey)),
    });
    const stored = await dumpRedis(producer, prefix);
    expect(stored).not.toContain("sealedValue");
    expect(findCanary(stored, CANARY)).toEqual([]);
    // The retried job followed the written version: registered once, with the first attempt's fingerprint.
    expect(await threads.find("sealed-a", "color", vault.writes[0]?.version ?? "")).toMatchObject({
      card: {
        fields: expect.arrayContaining([
          { label: "Fingerprint", value: fingerprint(CANARY, fingerprintKey(secretKey)) },
        ]),
      },
    });
  });

  it("a secret added with --new is one the lab has from then on", { timeout: 20_000 }, async () => {
    const { jobId } = await queue.enqueue({
      deliveryId: "slack.T1.sealed-2",
      correlationId: "c-000000000002",
      command: {
        kind: "secret.rotate",
        secret: "api-key",
        value: new SecretValue("k-1"),
        lab: "sealed-a",
        create: true,
      },
      origin: {
        address: { platform: "slack", tenant: "T1", channel: "C1" },
        user: { platform: "slack", id: "U0ADA" },
      },
      receivedAt: Date.now(),
    });
    await waitFor(
      async () => ((await (await queue.queue.getJob(jobId))?.isCompleted()) ? true : undefined),
      "the rotation job to complete",
      15_000,
    );
    expect((await registry.get("sealed-a"))?.secrets).toEqual(["api-key"]);
  });
});
