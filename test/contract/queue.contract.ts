import { describe, expect, it } from "vitest";
import { auditEntry } from "../../src/commands/audit-entry.ts";
import type { Command } from "../../src/commands/types.ts";
import type { AuditLog } from "../../src/ports/audit.ts";
import type { CommandEnvelope, CommandQueue } from "../../src/ports/queue.ts";
import { SecretValue } from "../../src/secret-value.ts";

export interface QueueHarness {
  queue: CommandQueue;
  /** The queued jobs' envelopes, as a worker opens them, in the order workers take them. */
  jobs(): Promise<CommandEnvelope[]>;
  /** The audit log the queue records a queued command's entry to, when it is given one. */
  audit: AuditLog;
}

function envelope(deliveryId: string, command: Command = { kind: "lab.list" }): CommandEnvelope {
  return {
    deliveryId,
    correlationId: `c-${deliveryId.length}`,
    command,
    origin: {
      address: { platform: "slack", tenant: "T1", channel: "C1" },
      user: { platform: "slack", id: "U1", name: "ada" },
      responseUrl: "https://hooks.slack.test/commands/T1/1/abc",
    },
    receivedAt: 1_767_225_600_000,
  };
}

/**
 * What every CommandQueue keeps: what intake enqueues reaches a worker as it
 * was sent, in the order sent, once per delivery (a job's id follows from its
 * delivery id, so enqueueing a delivery again adds nothing); two deliveries
 * never share a job, whatever characters their ids hold.
 */
export function commandQueueContract(name: string, setup: () => Promise<QueueHarness> | QueueHarness): void {
  describe(`CommandQueue contract: ${name}`, () => {
    it("delivers an envelope to the workers as it was sent, value included", async () => {
      const { queue, jobs } = await setup();
      const rotate = envelope("slack.T1.trig-1", {
        kind: "secret.rotate",
        lab: "team-a",
        secret: "color",
        value: new SecretValue("orange «s3cret»"),
      });
      const status = envelope("teams.1:f00", { kind: "lab.status", lab: "team-a" });
      expect((await queue.enqueue(rotate)).jobId).not.toBe("");
      await queue.enqueue(status);
      const [first, second] = await jobs();
      expect(first).toEqual(rotate);
      expect(first?.command.kind === "secret.rotate" && first.command.value?.reveal()).toBe(
        "orange «s3cret»",
      );
      expect(second).toEqual(status);
    });

    it("makes one job of a delivery enqueued again, under the same id", async () => {
      const { queue, jobs } = await setup();
      const first = await queue.enqueue(envelope("slack.T1.Ev1"));
      const again = await queue.enqueue({ ...envelope("slack.T1.Ev1"), correlationId: "c-retry" });
      expect(again.jobId).toBe(first.jobId);
      const racing = await Promise.all(
        Array.from({ length: 5 }, () => queue.enqueue(envelope("teams.1:race"))),
      );
      expect(new Set(racing.map((r) => r.jobId)).size).toBe(1);
      expect((await jobs()).map((e) => [e.deliveryId, e.correlationId])).toEqual([
        ["slack.T1.Ev1", envelope("slack.T1.Ev1").correlationId],
        ["teams.1:race", envelope("teams.1:race").correlationId],
      ]);
    });

    it("never gives two deliveries one job, even ids a job id cannot spell", async () => {
      const { queue, jobs } = await setup();
      const long = "x".repeat(240);
      const ids = ["teams.1:abc", "teams.1_abc", "teams.1/abc", `${long}a`, `${long}b`, "slack.T1.Ev1"];
      const results = [];
      for (const id of ids) results.push(await queue.enqueue(envelope(id)));
      expect(new Set(results.map((r) => r.jobId)).size).toBe(ids.length);
      expect((await jobs()).map((e) => e.deliveryId)).toEqual(ids);
    });

    it("records the entry given with a job once, with the job's id, and the job as sent", async () => {
      const { queue, jobs, audit } = await setup();
      const sent = envelope("slack.T1.audited", { kind: "lab.status", lab: "team-a" });
      const facts = { result: "queued" as const, command: "lab status team-a", kind: "lab.status" as const };
      const entry = auditEntry(sent.receivedAt, sent, { ...facts, lab: "team-a" });
      const result = await queue.enqueue(sent, entry);
      expect(result.audited).toBe(true);
      expect(await jobs()).toEqual([sent]);
      expect(await audit.recent()).toEqual([{ ...entry, jobId: result.jobId }]);
      expect(await audit.recent({ lab: "team-a" })).toEqual([{ ...entry, jobId: result.jobId }]);
      // Without an entry, nothing is recorded.
      await queue.enqueue(envelope("slack.T1.plain"));
      expect(await audit.recent()).toHaveLength(1);
    });

    it("recovers what an enqueue did when its job is stored, and nothing for one never stored", async () => {
      const { queue } = await setup();
      const sent = envelope("slack.T1.recover");
      expect(await queue.recover?.(sent)).toBeUndefined();
      const { jobId } = await queue.enqueue(sent);
      expect(await queue.recover?.(sent)).toMatchObject({ jobId });
    });

    it("hands jobs to the workers in the order they were queued", async () => {
      const { queue, jobs } = await setup();
      const ids = Array.from({ length: 8 }, (_, i) => `slack.T1.order-${7 - i}`);
      for (const id of ids) await queue.enqueue(envelope(id));
      expect((await jobs()).map((e) => e.deliveryId)).toEqual(ids);
    });
  });
}
