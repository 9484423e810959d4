import { describe, expect, it } from "vitest";
import type { LabRecord, LabRegistry } from "../../src/ports/registry.ts";

function lab(name: string, extra: Partial<LabRecord> = {}): LabRecord {
  return {
    name,
    state: "creating",
    owner: { platform: "slack", id: "U1" },
    address: { platform: "slack", tenant: "T1", channel: "C1" },
    location: "centralus",
    createdAt: 1,
    updatedAt: 1,
    expiresAt: 2,
    outputs: {},
    ...extra,
  };
}

/**
 * What every LabRegistry keeps: create-if-absent (two `lab create` of one name
 * make one lab), updates that never lose each other (steps running at the same
 * time each record their outputs), records as values, and `lab list`'s order.
 */
export function labRegistryContract(name: string, setup: () => Promise<LabRegistry> | LabRegistry): void {
  describe(`LabRegistry contract: ${name}`, () => {
    it("creates once, lists, and keeps concurrent updates", async () => {
      const registry = await setup();
      expect(await registry.create(lab("team-a"))).toBe(true);
      expect(await registry.create(lab("team-a"))).toBe(false);
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          registry.update("team-a", (r) => ({ ...r, outputs: { ...r.outputs, [`k${i}`]: String(i) } })),
        ),
      );
      const stored = await registry.get("team-a");
      expect(Object.keys(stored?.outputs ?? {})).toHaveLength(10);
      expect((await registry.list()).map((r) => r.name)).toEqual(["team-a"]);
      expect(await registry.update("missing", (r) => r)).toBeUndefined();
      await registry.delete("team-a");
      expect(await registry.get("team-a")).toBeUndefined();
      expect(await registry.list()).toEqual([]);
    });

    it("keeps the first record when a second create of the name loses", async () => {
      const registry = await setup();
      const first = lab("team-a", { owner: { platform: "slack", id: "U-ADA", name: "ada" } });
      const results = await Promise.all([
        registry.create(first),
        registry.create(lab("team-a", { owner: { platform: "slack", id: "U-BOB" } })),
      ]);
      expect(results).toEqual([true, false]);
      expect(await registry.get("team-a")).toEqual(first);
      expect(await registry.list()).toEqual([first]);
    });

    it("gives back every field as it was stored", async () => {
      const registry = await setup();
      const full = lab("team-a", {
        state: "failed",
        owner: { platform: "teams", id: "aad-1", name: "Ada Lovelace" },
        address: { platform: "teams", tenant: "tenant-1", channel: "19:abc@thread.tacv2" },
        outputs: { vaultName: "kv-team-a", vaultUri: "https://kv-team-a.vault.azure.net/" },
        steps: {
          "resource-group": { outputs: { id: "/subscriptions/x" }, durationMs: 1_200, finishedAt: 5 },
        },
        thread: {
          address: { platform: "teams", tenant: "tenant-1", channel: "19:abc@thread.tacv2" },
          threadId: "1700000000000",
          cardId: "1700000000001",
        },
        jobId: "d-slack.T1.trigger",
        lastError: { step: "aks", code: "QuotaExceeded", message: 'quota «exceeded» in "centralus"' },
      });
      await registry.create(full);
      expect(await registry.get("team-a")).toEqual(full);
      expect(await registry.get("team-b")).toBeUndefined();
    });

    it("hands out copies: changing a record read or written changes nothing stored", async () => {
      const registry = await setup();
      const written = lab("team-a");
      await registry.create(written);
      written.state = "ready";
      const read = await registry.get("team-a");
      if (read) read.outputs.injected = "yes";
      const listed = await registry.list();
      if (listed[0]) listed[0].state = "destroyed";
      expect(await registry.get("team-a")).toEqual(lab("team-a"));
    });

    it("returns the updated record and writes nothing when the lab is absent or the change throws", async () => {
      const registry = await setup();
      await registry.create(lab("team-a"));
      const updated = await registry.update("team-a", (r) => ({ ...r, state: "ready", updatedAt: 5 }));
      expect(updated).toEqual(lab("team-a", { state: "ready", updatedAt: 5 }));
      expect(await registry.get("team-a")).toEqual(updated);

      let called = false;
      expect(
        await registry.update("missing", (r) => {
          called = true;
          return r;
        }),
      ).toBeUndefined();
      expect(called).toBe(false);
      expect(await registry.get("missing")).toBeUndefined();

      await expect(
        registry.update("team-a", (r) => {
          r.state = "destroyed";
          r.outputs.half = "done";
          throw new Error("refused");
        }),
      ).rejects.toThrow("refused");
      expect(await registry.get("team-a")).toEqual(updated);
    });

    it("lists oldest first (by creation time, then name), and forgets what it deletes", async () => {
      const registry = await setup();
      expect(await registry.list()).toEqual([]);
      await registry.create(lab("team-c", { createdAt: 300 }));
      await registry.create(lab("team-a", { createdAt: 200 }));
      await registry.create(lab("team-b", { createdAt: 200 }));
      await registry.create(lab("team-d", { createdAt: 100 }));
      expect((await registry.list()).map((r) => r.name)).toEqual(["team-d", "team-a", "team-b", "team-c"]);
      await registry.update("team-d", (r) => ({ ...r, state: "ready" }));
      expect((await registry.list()).map((r) => r.name)).toEqual(["team-d", "team-a", "team-b", "team-c"]);

      await registry.delete("team-a");
      await registry.delete("never-was");
      expect((await registry.list()).map((r) => r.name)).toEqual(["team-d", "team-b", "team-c"]);
      expect(await registry.create(lab("team-a", { createdAt: 400 }))).toBe(true);
      expect((await registry.list()).map((r) => r.name)).toEqual(["team-d", "team-b", "team-c", "team-a"]);
    });
  });
}
