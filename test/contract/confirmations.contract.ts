import { describe, expect, it } from "vitest";
import { pendingDestroy } from "../../src/commands/confirmation.ts";
import type { ChatAddress, ChatUser } from "../../src/ports/chat.ts";
import type { ConfirmationStore, PendingConfirmation } from "../../src/ports/confirmations.ts";

export interface ConfirmationsHarness {
  store: ConfirmationStore;
  /** The same store as another web replica sees it. */
  peer: ConfirmationStore;
  /** The store's clock. */
  now(): number;
  /** Lets `ms` pass on it. */
  elapse(ms: number): Promise<void>;
  /** How long the store keeps a confirmation past its expiry. */
  graceMs: number;
}

const address: ChatAddress = { platform: "slack", tenant: "T1", channel: "C1" };
const ada: ChatUser = { platform: "slack", id: "U1", name: "ada" };

function pending(now: number, ttlMs?: number): PendingConfirmation {
  return pendingDestroy({
    command: { kind: "lab.destroy", lab: "team-a", confirmed: false },
    user: ada,
    address,
    correlationId: "c-1",
    now,
    ...(ttlMs !== undefined ? { ttlMs } : {}),
  });
}

/**
 * What every ConfirmationStore keeps, as intake relies on it: a confirmation
 * is taken once, by its own user only, whichever replica the presses land on;
 * it outlives its expiry by the grace period so a late press is told it
 * expired (intake checks `expiresAt`), and is forgotten after.
 */
export function confirmationStoreContract(
  name: string,
  setup: () => Promise<ConfirmationsHarness> | ConfirmationsHarness,
): void {
  describe(`ConfirmationStore contract: ${name}`, () => {
    it("gives a confirmation once, to its own user only", async () => {
      const { store, now } = await setup();
      const p = pending(now());
      await store.create(p);
      expect(await store.consume(p.id, { platform: "slack", id: "U2" })).toEqual({
        ok: false,
        reason: "other_user",
      });
      expect(await store.consume(p.id, { platform: "teams", id: "U1" })).toEqual({
        ok: false,
        reason: "other_user",
      });
      const taken = await store.consume(p.id, ada);
      expect(taken).toEqual({ ok: true, confirmation: p });
      expect(await store.consume(p.id, ada)).toEqual({ ok: false, reason: "unknown" });
      expect(await store.consume(p.id, { platform: "slack", id: "U2" })).toEqual({
        ok: false,
        reason: "unknown",
      });
    });

    it("lets only one of simultaneous presses through, across replicas", async () => {
      const { store, peer, now } = await setup();
      const p = pending(now());
      await store.create(p);
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? store : peer).consume(p.id, ada)),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok && r.reason === "unknown")).toHaveLength(5);
    });

    it("knows nothing of an id it never had, and keeps confirmations apart", async () => {
      const { store, peer, now } = await setup();
      expect(await store.consume("cf-never", ada)).toEqual({ ok: false, reason: "unknown" });
      const a = pending(now());
      const b = pending(now());
      await store.create(a);
      await store.create(b);
      expect(await peer.consume(b.id, ada)).toEqual({ ok: true, confirmation: b });
      expect(await peer.consume(a.id, ada)).toEqual({ ok: true, confirmation: a });
    });

    it("still gives a confirmation just past its expiry, for intake to say it expired", async () => {
      const h = await setup();
      const p = pending(h.now(), 100);
      await h.store.create(p);
      await h.elapse(300);
      const taken = await h.store.consume(p.id, ada);
      expect(taken).toEqual({ ok: true, confirmation: p });
      expect(p.expiresAt).toBeLessThan(h.now());
    });

    it("forgets a confirmation once its grace period is over", async () => {
      const h = await setup();
      const p = pending(h.now(), 100);
      await h.store.create(p);
      await h.elapse(100 + h.graceMs + 300);
      expect(await h.store.consume(p.id, { platform: "slack", id: "U2" })).toEqual({
        ok: false,
        reason: "unknown",
      });
      expect(await h.store.consume(p.id, ada)).toEqual({ ok: false, reason: "unknown" });
    });
  });
}
