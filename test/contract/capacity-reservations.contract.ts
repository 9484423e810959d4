import { describe, expect, it } from "vitest";
import type { CapacityReservations } from "../../src/ports/capacity.ts";

/** What every CapacityReservations does: an atomic check-and-reserve with expiry and release. */
export function capacityReservationsContract(
  name: string,
  make: () => Promise<CapacityReservations> | CapacityReservations,
): void {
  const T0 = Date.UTC(2026, 11, 1, 9);
  const need = (id: string, vCpus: number, available = 10, ignore: string[] = [], now = T0) => ({
    id,
    amounts: { "centralus/cores": vCpus, "centralus/standardBSFamily": vCpus },
    available: { "centralus/cores": available, "centralus/standardBSFamily": available },
    ignore,
    now,
    ttlMs: 60_000,
  });

  describe(`CapacityReservations contract: ${name}`, () => {
    it("of three reservations sent at once with room for two, exactly one is refused", async () => {
      const r = await make();
      const results = await Promise.all(["a", "b", "c"].map((id) => r.reserve(need(id, 4, 10))));
      expect(results.filter((x) => x.ok)).toHaveLength(2);
      const refused = results.find((x) => !x.ok);
      expect(refused).toEqual({ ok: false, key: "centralus/cores", reserved: 8, labs: 2 });
      expect(await r.reserved(T0)).toEqual({ "centralus/cores": 8, "centralus/standardBSFamily": 8 });
    });

    it("replaces a lab's own reservation instead of counting it twice, and skips those it is told to", async () => {
      const r = await make();
      expect((await r.reserve(need("a", 4, 8))).ok).toBe(true);
      expect((await r.reserve(need("a", 4, 8))).ok).toBe(true);
      expect((await r.reserve(need("b", 4, 8))).ok).toBe(true);
      expect((await r.reserve(need("c", 4, 8))).ok).toBe(false);
      // a's cluster now shows in the usages: the caller says so, and its reservation is not counted again.
      expect((await r.reserve(need("c", 4, 4, ["a", "b"]))).ok).toBe(true);
    });

    it("drops reservations past their expiry, and lets a released one linger only as long as asked", async () => {
      const r = await make();
      expect((await r.reserve(need("a", 4, 4))).ok).toBe(true);
      expect((await r.reserve(need("b", 4, 4, [], T0 + 30_000))).ok).toBe(false);
      expect((await r.reserve(need("b", 4, 4, [], T0 + 60_001))).ok).toBe(true);
      await r.release("b", T0 + 61_000, 5_000);
      expect((await r.reserve(need("c", 4, 4, [], T0 + 62_000))).ok).toBe(false);
      expect((await r.reserve(need("c", 4, 4, [], T0 + 66_001))).ok).toBe(true);
      await r.release("c", T0 + 66_002, 0);
      expect(await r.reserved(T0 + 66_003)).toEqual({});
      await r.release("never-reserved", T0, 0);
    });

    it("refuses at once what does not fit even with nothing in flight", async () => {
      const r = await make();
      expect(await r.reserve(need("gpu", 6, 0))).toEqual({
        ok: false,
        key: "centralus/cores",
        reserved: 0,
        labs: 0,
      });
    });
  });
}
