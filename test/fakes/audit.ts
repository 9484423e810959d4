import type { AuditEntry, AuditLog, AuditQuery } from "../../src/ports/audit.ts";

/** The audit trail in memory; `entries` is every entry, oldest first. */
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
      .slice(0, query.limit ?? 20)
      .map((e) => structuredClone(e));
  }
}
