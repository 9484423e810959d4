import type { CommandEnvelope, CommandQueue, EnqueueResult } from "../../src/ports/queue.ts";

/** The command queue in memory: `jobs` in the order queued, one per delivery; `failing` makes it unreachable. */
export class MemoryQueue implements CommandQueue {
  readonly jobs: CommandEnvelope[] = [];
  failing = false;

  async enqueue(envelope: CommandEnvelope): Promise<EnqueueResult> {
    if (this.failing) throw new Error("queue down");
    const jobId = `d-${envelope.deliveryId}`;
    // Kept as given: a SecretValue does not survive a structured clone (the Redis queue seals it).
    if (!this.jobs.some((j) => j.deliveryId === envelope.deliveryId)) this.jobs.push(envelope);
    return { jobId };
  }
}
