import type { AuditEntry, AuditLog, AuditQuery } from "../../src/ports/audit.ts";
import type { ChatUser } from "../../src/ports/chat.ts";
import type { ConfirmationStore, ConsumeResult, PendingConfirmation } from "../../src/ports/confirmations.ts";
import type { DeliveryLog } from "../../src/ports/deliveries.ts";
import type { CommandEnvelope, CommandQueue, EnqueueResult } from "../../src/ports/queue.ts";
import type { LabRecord, LabRegistry } from "../../src/ports/registry.ts";

/** In-memory stand-ins for the intake's ports, for unit tests (the Redis ones have their own tests). */

export class MemoryAuditLog implements AuditLog {
  readonly entries: AuditEntry[] = [];
  async record(entry: AuditEntry): Promise<void> {
    this.entries.push(structuredClone(entry));
  }
  async recent(query: AuditQuery = {}): Promise<AuditEntry[]> {
    return this.entries
      .filter((e) => query.lab === undefined || e.lab === query.lab)
      .slice()
      .reverse()
      .slice(0, query.limit ?? 20);
  }
}

export class MemoryConfirmationStore implements ConfirmationStore {
  readonly pending = new Map<string, PendingConfirmation>();
  async create(confirmation: PendingConfirmation): Promise<void> {
    this.pending.set(confirmation.id, structuredClone(confirmation));
  }
  async consume(id: string, by: ChatUser): Promise<ConsumeResult> {
    const found = this.pending.get(id);
    if (!found) return { ok: false, reason: "unknown" };
    if (found.user.platform !== by.platform || found.user.id !== by.id)
      return { ok: false, reason: "other_user" };
    this.pending.delete(id);
    return { ok: true, confirmation: found };
  }
}

export class MemoryDeliveryLog implements DeliveryLog {
  readonly seen = new Set<string>();
  async claim(deliveryId: string): Promise<boolean> {
    if (this.seen.has(deliveryId)) return false;
    this.seen.add(deliveryId);
    return true;
  }
  async release(deliveryId: string): Promise<void> {
    this.seen.delete(deliveryId);
  }
}

export class MemoryQueue implements CommandQueue {
  readonly jobs: CommandEnvelope[] = [];
  failing = false;
  async enqueue(envelope: CommandEnvelope): Promise<EnqueueResult> {
    if (this.failing) throw new Error("queue down");
    const jobId = `d-${envelope.deliveryId}`;
    if (!this.jobs.some((j) => j.deliveryId === envelope.deliveryId)) this.jobs.push(envelope);
    return { jobId };
  }
}

export class MemoryLabRegistry implements LabRegistry {
  readonly labs = new Map<string, LabRecord>();
  async get(name: string): Promise<LabRecord | undefined> {
    return this.labs.get(name);
  }
  async create(record: LabRecord): Promise<boolean> {
    if (this.labs.has(record.name)) return false;
    this.labs.set(record.name, record);
    return true;
  }
  async update(name: string, change: (record: LabRecord) => LabRecord): Promise<LabRecord | undefined> {
    const r = this.labs.get(name);
    if (!r) return undefined;
    const next = change(r);
    this.labs.set(name, next);
    return next;
  }
  async delete(name: string): Promise<void> {
    this.labs.delete(name);
  }
  async list(): Promise<LabRecord[]> {
    return [...this.labs.values()];
  }
}

/** A lab as the create workflow registers it. */
export function labRecord(
  name: string,
  owner: ChatUser,
  address: LabRecord["address"],
  state: LabRecord["state"] = "ready",
): LabRecord {
  const now = Date.now();
  return {
    name,
    state,
    owner,
    address,
    location: "centralus",
    createdAt: now,
    updatedAt: now,
    expiresAt: now + 8 * 3_600_000,
    outputs: {},
  };
}
