import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { toWire, type WireEnvelope } from "../src/commands/envelope.ts";
import type { CommandEnvelope, CommandQueue, EnqueueResult } from "../src/ports/queue.ts";

export const COMMANDS_QUEUE = "commands";
/** How long a delivery id is remembered: well past Slack's 5-minute signature window and its retries. */
const DELIVERY_MEMORY_SECONDS = 24 * 3600;

/** BullMQ job ids may not contain ":"; delivery ids (Slack trigger ids, Teams activity ids) may. */
export function jobIdFor(deliveryId: string): string {
  return `d-${deliveryId.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 200)}`;
}

export interface BullCommandQueueOptions {
  /** Connection for the queue; created with the "producer" settings. */
  connection: Redis;
  prefix: string;
  secretKey: Buffer;
  queueName?: string;
}

/** The CommandQueue port on BullMQ: one queue, one job name per command kind. */
export class BullCommandQueue implements CommandQueue {
  readonly queue: Queue<WireEnvelope>;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #secretKey: Buffer;

  constructor(options: BullCommandQueueOptions) {
    this.#redis = options.connection;
    this.#prefix = options.prefix;
    this.#secretKey = options.secretKey;
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
    const marker = `${this.#prefix}:delivery:${jobId}`;
    // The marker makes a delivery count once even after its job was removed.
    const first = await this.#redis.set(
      marker,
      String(envelope.receivedAt),
      "EX",
      DELIVERY_MEMORY_SECONDS,
      "NX",
    );
    if (first === null) return { jobId, duplicate: true };
    try {
      await this.queue.add(envelope.command.kind, toWire(envelope, this.#secretKey), { jobId });
    } catch (error) {
      // Forget the delivery so the platform's retry can succeed.
      await this.#redis.del(marker).catch(() => undefined);
      throw error;
    }
    return { jobId, duplicate: false };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
