import { describe, expect, it } from "vitest";
import { type IntakeDeps, intake } from "../../src/commands/intake.ts";
import { parseCommandText } from "../../src/commands/parse.ts";
import { createLogger } from "../../src/log.ts";
import type { DeliveryLog } from "../../src/ports/deliveries.ts";
import { MemoryAuditLog } from "../fakes/audit.ts";
import { MemoryLabCaps } from "../fakes/caps.ts";
import { MemoryConfirmationStore } from "../fakes/confirmations.ts";
import { MemoryDeliveryLog } from "../fakes/deliveries.ts";
import { MemoryQueue } from "../fakes/queue.ts";
import { MemoryLabRegistry } from "../fakes/registry.ts";

/**
 * A claim whose answer is lost (the store took it, the reply timed out):
 * intake answers "unavailable", and must leave nothing behind that would
 * turn the platform's retry of the same delivery away, neither the claim
 * (answered "already received" though nothing was done) nor what the caps
 * admitted ahead of it (the lab's name held, the user's one lab counted).
 */
describe("intake: a claim whose answer was lost", () => {
  it("forgets the claim and the caps asked ahead, so the retry of the delivery is queued", async () => {
    const clock = { now: () => Date.UTC(2026, 0, 1, 12) };
    const claims = new MemoryDeliveryLog(clock);
    let lose = 1;
    // The claim is made, then its answer lost, once.
    const deliveries: DeliveryLog = {
      claim: async (id, ttlMs) => {
        const first = await claims.claim(id, ttlMs);
        if (lose-- > 0) throw new Error("Command timed out");
        return first;
      },
      release: (id) => claims.release(id),
    };
    const registry = new MemoryLabRegistry();
    const audit = new MemoryAuditLog();
    const queue = new MemoryQueue(audit);
    const deps: IntakeDeps = {
      queue,
      registry,
      confirmations: new MemoryConfirmationStore(clock),
      audit,
      deliveries,
      admins: [],
      logger: createLogger({ level: "silent" }),
      clock,
      caps: {
        store: new MemoryLabCaps(registry),
        settings: {
          maxLabsPerUser: 1,
          maxLabsPerConversation: 5,
          maxLabs: 5,
          maxCommandsPerMinute: 20,
          maxLabLifetimeMs: 24 * 3_600_000,
        },
        timeScale: 1,
      },
    };
    const delivery = {
      deliveryId: "slack.T1.lost-claim",
      origin: {
        address: { platform: "slack" as const, tenant: "T1", channel: "C1" },
        user: { platform: "slack" as const, id: "U1" },
      },
      receivedAt: clock.now(),
      parsed: parseCommandText("lab create team-z"),
    };

    expect(await intake({ ...delivery, correlationId: "c-1" }, deps)).toMatchObject({ kind: "unavailable" });
    expect(queue.jobs).toHaveLength(0);

    const retried = await intake({ ...delivery, correlationId: "c-2" }, deps);
    expect(retried).toMatchObject({ kind: "queued", jobId: "d-slack.T1.lost-claim" });
    expect(queue.jobs).toHaveLength(1);
    // And the delivery is now claimed for good: a further retry is one.
    expect(await intake({ ...delivery, correlationId: "c-3" }, deps)).toMatchObject({ kind: "duplicate" });
  });
});
