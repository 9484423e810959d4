import { createHash } from "node:crypto";
import { Job, Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { RedisAuditLog } from "../adapters/redis/audit.ts";
import { toWire, type WireEnvelope } from "../src/commands/envelope.ts";
import type { AuditEntry } from "../src/ports/audit.ts";
import type { CommandEnvelope, CommandQueue, EnqueueResult } from "../src/ports/queue.ts";
import { carrierOf, inSpan, NO_TRACING, type Tracing } from "../src/ports/tracing.ts";

export const COMMANDS_QUEUE = "commands";

/**
 * The job id of a delivery: one delivery, one id; two deliveries, two ids.
 * BullMQ job ids may not contain ":" and delivery ids (Slack trigger ids,
 * Teams activity ids) may: an id that had to be changed or shortened gets a
 * digest of the original, so that no two deliveries share a job.
 */
export function jobIdFor(deliveryId: string): string {
  const safe = deliveryId.replace(/[^A-Za-z0-9._-]/g, "_");
  if (safe === deliveryId && safe.length <= 200) return `d-${safe}`;
  const digest = createHash("sha256").update(deliveryId).digest("hex").slice(0, 16);
  return `d-${safe.slice(0, 180)}~${digest}`;
}

export interface BullCommandQueueOptions {
  /** Connection for the queue; created with the "producer" settings. */
  connection: Redis;
  prefix: string;
  secretKey: Buffer;
  queueName?: string;
  /** Puts the active span's context (else a producer span's) in the job, for the worker; NO_TRACING when absent. */
  tracing?: Tracing;
  /**
   * Where a queued command's audit entry goes, in the same socket write as
   * its job when the log writes on `connection` (the web role's producer).
   */
  audit?: RedisAuditLog;
}

/**
 * The CommandQueue port on BullMQ: one queue, one job name per command kind,
 * the job id derived from the delivery id. It keeps no delivery markers of its
 * own: a chat delivery is de-duplicated once, by intake's DeliveryLog, before
 * it gets here.
 */
export class BullCommandQueue implements CommandQueue {
  readonly queue: Queue<WireEnvelope>;
  readonly #secretKey: Buffer;
  readonly #tracing: Tracing;
  readonly #audit: RedisAuditLog | undefined;
  readonly #connection: Redis;

  constructor(options: BullCommandQueueOptions) {
    this.#secretKey = options.secretKey;
    this.#tracing = options.tracing ?? NO_TRACING;
    this.#connection = options.connection;
    // Only a log on the queue's own connection: one write, in order, is what makes the entry follow its job.
    this.#audit = options.audit?.connection === options.connection ? options.audit : undefined;
    this.queue = new Queue<WireEnvelope>(options.queueName ?? COMMANDS_QUEUE, {
      connection: options.connection,
      prefix: options.prefix,
      defaultJobOptions: {
        attempts: 3,
        backoff: { type: "exponential", delay: 2_000 },
        removeOnComplete: { age: 7 * 24 * 3600, count: 5_000 },
        removeOnFail: { age: 30 * 24 * 3600 },
      },
    });
    // Connection errors surface through /readyz and through enqueue's answer; without a
    // listener BullMQ would print each reconnect attempt to stderr.
    this.queue.on("error", () => undefined);
  }

  async enqueue(envelope: CommandEnvelope, audit?: AuditEntry): Promise<EnqueueResult> {
    const jobId = jobIdFor(envelope.deliveryId);
    const tracing = this.#tracing;
    if (!tracing.enabled) return this.#add(envelope, jobId, audit);
    // Intake's span, active here, is the job's producer: its context goes in the job, no span of its own.
    const active = carrierOf(tracing);
    if (active) return this.#add({ ...envelope, trace: active }, jobId, audit);
    // Nothing active (an expiry): a producer span is the root of the job's trace.
    const { command } = envelope;
    const attributes = {
      "labops.command.kind": command.kind,
      "labops.correlation_id": envelope.correlationId,
      "labops.job.id": jobId,
      "labops.lab": "lab" in command ? command.lab : undefined,
      "messaging.system": "bullmq",
      "messaging.destination.name": this.queue.name,
      "messaging.operation.type": "send",
    };
    return inSpan(tracing, "labops.enqueue", { kind: "producer", attributes }, () => {
      const trace = carrierOf(tracing);
      return this.#add(trace ? { ...envelope, trace } : envelope, jobId, audit);
    });
  }

  async #add(
    envelope: CommandEnvelope,
    jobId: string,
    audit: AuditEntry | undefined,
  ): Promise<EnqueueResult> {
    const name = envelope.command.kind;
    const data = toWire(envelope, this.#secretKey);
    // BullMQ adds nothing for a job id it still keeps: the same delivery makes one job.
    if (!audit || !this.#audit) {
      await this.queue.add(name, data, { jobId });
      return { jobId };
    }
    // Queue.add's own steps (Job.create, then the backend's addJob), with the add issued before
    // the audit entry: ioredis's auto-pipeline sends both in one write, in that order, and Redis
    // runs the entry's script after the add, writing it only if the job is then stored.
    const client = await this.queue.getBackend().client;
    const job = new Job(this.queue, name, data, { ...this.queue.jobsOpts, jobId }, jobId);
    const added = job.addJob(client);
    const recorded = this.#audit.recordIfStored({ ...audit, jobId }, this.queue.toKey(jobId));
    // An entry not written is the caller's to record; the add's failure is what enqueue reports.
    recorded.catch(() => undefined);
    await added;
    return { jobId, audited: await recorded.catch(() => false) };
  }

  async recover(envelope: CommandEnvelope, audit?: AuditEntry): Promise<EnqueueResult | undefined> {
    const jobId = jobIdFor(envelope.deliveryId);
    if ((await this.#connection.exists(this.queue.toKey(jobId))) === 0) return undefined;
    // A stored job's entry went out in the same write, right behind it (#add): written with it.
    return { jobId, ...(audit && this.#audit ? { audited: true } : {}) };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
