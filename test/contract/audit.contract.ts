import { describe, expect, it } from "vitest";
import type { AuditEntry, AuditLog } from "../../src/ports/audit.ts";

/** An audit entry numbered `n`, about `lab` when given (also used by the Redis-only audit tests). */
export const auditEntryFixture = (n: number, lab?: string): AuditEntry => ({
  at: 1_000 + n,
  correlationId: `c-${n}`,
  deliveryId: `d-${n}`,
  platform: "slack",
  tenant: "T1",
  channel: "C1",
  userId: "U1",
  userName: "ada",
  command: lab ? `lab destroy ${lab}` : "lab list",
  kind: lab ? "lab.destroy" : "lab.list",
  result: "queued",
  ...(lab ? { lab, jobId: `j-${n}` } : {}),
});

const entry = auditEntryFixture;

/**
 * What every AuditLog keeps: entries read back as written, the most recently
 * recorded first, all of them or one lab's (what `lab status` shows).
 */
export function auditLogContract(name: string, setup: () => Promise<AuditLog> | AuditLog): void {
  describe(`AuditLog contract: ${name}`, () => {
    it("reads a lab's recent entries back, newest first", async () => {
      const audit = await setup();
      await audit.record(entry(1, "team-a"));
      await audit.record(entry(2));
      await audit.record(entry(3, "team-b"));
      await audit.record(entry(4, "team-a"));
      expect(await audit.recent({ lab: "team-a" })).toEqual([entry(4, "team-a"), entry(1, "team-a")]);
      expect((await audit.recent({ limit: 2 })).map((e) => e.correlationId)).toEqual(["c-4", "c-3"]);
      expect((await audit.recent()).map((e) => e.correlationId)).toEqual(["c-4", "c-3", "c-2", "c-1"]);
      expect(await audit.recent({ lab: "team-c" })).toEqual([]);
      expect(await audit.recent({ lab: "team-b", limit: 5 })).toEqual([entry(3, "team-b")]);
    });

    it("gives back every field as written, and no field that was not", async () => {
      const audit = await setup();
      const full: AuditEntry = {
        at: 1_767_225_600_123,
        correlationId: "c-full",
        deliveryId: "teams.1:f00/ba r",
        platform: "teams",
        tenant: "tenant-1",
        channel: "19:abc@thread.tacv2",
        userId: "aad-1",
        userName: 'Zoë "Z" O\'Neil, 日本',
        command: "secret rotate color --lab team-a",
        kind: "secret.rotate",
        lab: "team-a",
        result: "refused",
        reason: "not_owner",
        jobId: "d-teams.1_f00",
      };
      const bare: AuditEntry = {
        at: 1,
        correlationId: "c-bare",
        deliveryId: "d-bare",
        platform: "slack",
        tenant: "T1",
        channel: "C1",
        userId: "U1",
        command: "(unreadable)",
        result: "rejected",
      };
      await audit.record(full);
      await audit.record(bare);
      expect(await audit.recent()).toStrictEqual([bare, full]);
      expect(await audit.recent({ lab: "team-a" })).toStrictEqual([full]);
    });

    it("orders by when entries were recorded, not by their `at`", async () => {
      const audit = await setup();
      await audit.record({ ...entry(1), at: 3_000 });
      await audit.record({ ...entry(2), at: 1_000 });
      expect((await audit.recent()).map((e) => e.correlationId)).toEqual(["c-2", "c-1"]);
    });

    it("returns 20 entries unless asked for another number", async () => {
      const audit = await setup();
      for (let n = 1; n <= 25; n++) await audit.record(entry(n, "team-a"));
      const recent = await audit.recent();
      expect(recent.map((e) => e.correlationId)).toEqual(Array.from({ length: 20 }, (_, i) => `c-${25 - i}`));
      expect(await audit.recent({ lab: "team-a" })).toHaveLength(20);
      expect(await audit.recent({ lab: "team-a", limit: 25 })).toHaveLength(25);
      expect(await audit.recent({ limit: 100 })).toHaveLength(25);
    });

    it("hands out copies: changing an entry written or read changes nothing recorded", async () => {
      const audit = await setup();
      const written = entry(1, "team-a");
      await audit.record(written);
      written.result = "failed";
      const [read] = await audit.recent();
      if (read) read.result = "succeeded";
      expect(await audit.recent()).toEqual([entry(1, "team-a")]);
    });
  });
}
