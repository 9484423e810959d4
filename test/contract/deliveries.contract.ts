import { describe, expect, it } from "vitest";
import type { DeliveryLog } from "../../src/ports/deliveries.ts";

export interface DeliveriesHarness {
  log: DeliveryLog;
  /** The same log as another web replica sees it. */
  peer: DeliveryLog;
  /** Lets `ms` pass on the clock claims lapse on. */
  elapse(ms: number): Promise<void>;
}

const DAY = 24 * 3_600_000;

/**
 * What every DeliveryLog keeps, the one de-duplication of chat deliveries:
 * a delivery id is claimed once, whichever replica a retry lands on, until
 * released (after a failure that changed nothing) or its memory lapses.
 */
export function deliveryLogContract(
  name: string,
  setup: () => Promise<DeliveriesHarness> | DeliveriesHarness,
): void {
  describe(`DeliveryLog contract: ${name}`, () => {
    it("claims a delivery once until released", async () => {
      const { log } = await setup();
      expect(await log.claim("slack.T1.Ev1", 60_000)).toBe(true);
      expect(await log.claim("slack.T1.Ev1", 60_000)).toBe(false);
      await log.release("slack.T1.Ev1");
      expect(await log.claim("slack.T1.Ev1", 60_000)).toBe(true);
    });

    it("keeps deliveries apart, and releasing one never claimed changes nothing", async () => {
      const { log } = await setup();
      await log.release("teams.never");
      expect(await log.claim("slack.T1.Ev1", DAY)).toBe(true);
      expect(await log.claim("slack.T1.Ev2", DAY)).toBe(true);
      expect(await log.claim("teams.1:abc", DAY)).toBe(true);
      expect(await log.claim("teams.1_abc", DAY)).toBe(true);
      await log.release("slack.T1.Ev2");
      expect(await log.claim("slack.T1.Ev1", DAY)).toBe(false);
      expect(await log.claim("teams.1:abc", DAY)).toBe(false);
    });

    it("gives a delivery retried on several replicas at once to exactly one", async () => {
      const { log, peer } = await setup();
      const claims = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? log : peer).claim("slack.T1.Ev9", DAY)),
      );
      expect(claims.filter(Boolean)).toHaveLength(1);
      await peer.release("slack.T1.Ev9");
      expect(await log.claim("slack.T1.Ev9", DAY)).toBe(true);
      expect(await peer.claim("slack.T1.Ev9", DAY)).toBe(false);
    });

    it("remembers a claim for its ttl, then forgets it", async () => {
      const h = await setup();
      expect(await h.log.claim("slack.T1.Ev3", 1_000)).toBe(true);
      expect(await h.log.claim("slack.T1.Ev4", 100.5)).toBe(true);
      await h.elapse(400);
      expect(await h.peer.claim("slack.T1.Ev3", 1_000)).toBe(false);
      expect(await h.peer.claim("slack.T1.Ev4", 1_000)).toBe(true);
    });
  });
}
