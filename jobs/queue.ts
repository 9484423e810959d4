import { createHash } from "node:crypto";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { toWire, type WireEnvelope } from "../src/commands/envelope.ts";
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
  /** A producer span per enqueue, whose context the envelope carries to the worker; NO_TRACING when absent. */
  tracing?: Tracing;
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

  constructor(options: BullCommandQueueOptions) {
    this.#secretKey = options.secretKey;
    this.#tracing = options.tracing ?? NO_TRACING;
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

  async enqueue(envelope: CommandEnvelope): Promise<EnqueueResult> {
    const jobId = jobIdFor(envelope.deliveryId);
    const tracing = this.#tracing;
    if (!tracing.enabled) return this.#add(envelope, jobId);
    // The producer span: a child of intake's span (or the root of an expiry's trace), its context in the job.
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
      return this.#add(trace ? { ...envelope, trace } : envelope, jobId);
    });
  }

  async #add(envelope: CommandEnvelope, jobId: string): Promise<EnqueueResult> {
    // BullMQ adds nothing for a job id it still keeps: the same delivery makes one job.
    await this.queue.add(envelope.command.kind, toWire(envelope, this.#secretKey), { jobId });
    return { jobId };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
