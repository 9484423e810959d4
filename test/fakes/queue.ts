import type { AuditEntry, AuditLog } from "../../src/ports/audit.ts";
import type { CommandEnvelope, CommandQueue, EnqueueResult } from "../../src/ports/queue.ts";

/**
 * The command queue in memory: `jobs` in the order queued, one per delivery;
 * `failing` makes it unreachable. Given an audit log, it records the entry
 * given with a job once the job is kept, as the Redis queue does.
 */
export class MemoryQueue implements CommandQueue {
  readonly jobs: CommandEnvelope[] = [];
  failing = false;
  readonly #audit: AuditLog | undefined;

  constructor(audit?: AuditLog) {
    this.#audit = audit;
  }

  async enqueue(envelope: CommandEnvelope, audit?: AuditEntry): Promise<EnqueueResult> {
    if (this.failing) throw new Error("queue down");
    const jobId = `d-${envelope.deliveryId}`;
    // Kept as given: a SecretValue does not survive a structured clone (the Redis queue seals it).
    if (!this.jobs.some((j) => j.deliveryId === envelope.deliveryId)) this.jobs.push(envelope);
    if (!audit || !this.#audit) return { jobId };
    await this.#audit.record({ ...audit, jobId });
    return { jobId, audited: true };
  }

  async recover(envelope: CommandEnvelope, audit?: AuditEntry): Promise<EnqueueResult | undefined> {
    if (this.failing) throw new Error("queue down");
    if (!this.jobs.some((j) => j.deliveryId === envelope.deliveryId)) return undefined;
    return { jobId: `d-${envelope.deliveryId}`, ...(audit && this.#audit ? { audited: true } : {}) };
  }
}
