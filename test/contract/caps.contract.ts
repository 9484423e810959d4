import { describe, expect, it } from "vitest";
import { conversationKey, userKey } from "../../src/commands/caps.ts";
import type { AdmitRequest, CapLimits, LabCaps } from "../../src/ports/caps.ts";
import type { ChatAddress, ChatUser } from "../../src/ports/chat.ts";
import type { LabRegistry, LabState } from "../../src/ports/registry.ts";
import { labRecord } from "../helpers/lab-record.ts";

export interface CapsHarness {
  caps: LabCaps;
  /** The same caps as another web replica sees them. */
  peer: LabCaps;
  /** The registry the caps count live labs in. */
  registry: LabRegistry;
  /** The clock reading admits are made at. */
  now(): number;
  /** Lets `ms` pass on that clock. */
  elapse(ms: number): Promise<void>;
}

const here: ChatAddress = { platform: "slack", tenant: "T1", channel: "C-HERE" };
const there: ChatAddress = { platform: "teams", tenant: "tenant-1", channel: "19:abc@thread.tacv2" };
const ada: ChatUser = { platform: "slack", id: "U-ADA", name: "ada" };
const bob: ChatUser = { platform: "slack", id: "U-BOB", name: "bob" };
const tess: ChatUser = { platform: "teams", id: "AAD-Tess-1", name: "Tess" };

const roomy: CapLimits = {
  labsPerUser: 100,
  labsPerConversation: 100,
  labs: 1000,
  commands: 1000,
  windowMs: 60_000,
};

let seq = 0;
function request(
  h: CapsHarness,
  user: ChatUser,
  address: ChatAddress,
  limits: Partial<CapLimits>,
  lab?: string,
  options: { exempt?: boolean; holdMs?: number; token?: string } = {},
): AdmitRequest {
  seq += 1;
  return {
    subject: { user: userKey(user), conversation: conversationKey(address), exempt: options.exempt ?? false },
    limits: { ...roomy, ...limits },
    now: h.now(),
    token: options.token ?? `c-${seq}`,
    ...(lab ? { create: { lab, holdMs: options.holdMs ?? 60_000, owner: JSON.stringify(user) } } : {}),
  };
}

async function record(h: CapsHarness, name: string, owner: ChatUser, address: ChatAddress, state: LabState) {
  expect(await h.registry.create(labRecord(name, owner, address, state))).toBe(true);
}

/**
 * What every LabCaps keeps: each cap checked and the command counted in one
 * step, so concurrent commands on any replica never pass a cap together; a
 * create holds its lab's name until released or lapsed.
 */
export function labCapsContract(name: string, setup: () => Promise<CapsHarness> | CapsHarness): void {
  describe(`LabCaps contract: ${name}`, () => {
    it("admits a user's commands up to the rate, says when there is room again, and exempts admins", async () => {
      const h = await setup();
      const limits = { commands: 3, windowMs: 400 };
      const first = h.now();
      for (let i = 0; i < 3; i++)
        expect(await h.caps.admit(request(h, ada, here, limits))).toEqual({ ok: true });
      const refused = await h.peer.admit(request(h, ada, here, limits));
      expect(refused).toMatchObject({ ok: false, cap: "rate", count: 3 });
      if (refused.ok || refused.cap !== "rate") throw new Error("not a rate refusal");
      expect(refused.retryAt).toBeGreaterThanOrEqual(first + 400);
      expect(refused.retryAt).toBeLessThanOrEqual(h.now() + 400);
      // Another user, and an admin, are not held back by ada's rate.
      expect(await h.caps.admit(request(h, bob, here, limits))).toEqual({ ok: true });
      for (let i = 0; i < 5; i++) {
        expect(await h.caps.admit(request(h, bob, here, limits, undefined, { exempt: true }))).toEqual({
          ok: true,
        });
      }
      await h.elapse(450);
      expect(await h.caps.admit(request(h, ada, here, limits))).toEqual({ ok: true });
    });

    it("counts live labs per user: records not destroyed and names held, a retry of one's own lab not again", async () => {
      const h = await setup();
      await record(h, "a-ready", ada, here, "ready");
      await record(h, "a-gone", ada, here, "destroyed");
      await record(h, "a-failed", ada, there, "failed");
      const limits = { labsPerUser: 3 };
      expect(await h.caps.admit(request(h, ada, here, limits, "a-new"))).toEqual({ ok: true });
      const full = await h.caps.admit(request(h, ada, here, limits, "a-more"));
      expect(full).toMatchObject({ ok: false, cap: "user" });
      if (full.ok || full.cap !== "user") throw new Error("not a user refusal");
      expect([...full.labs].sort()).toEqual(["a-failed", "a-new", "a-ready"]);
      // Retrying a lab of this conversation adds no lab; an admin is not counted per user.
      expect(await h.caps.admit(request(h, ada, there, limits, "a-failed"))).toEqual({ ok: true });
      expect(await h.caps.admit(request(h, ada, here, limits, "a-admin", { exempt: true }))).toEqual({
        ok: true,
      });
    });

    it("compares Teams users without case, as sameUser does", async () => {
      const h = await setup();
      await record(h, "t-one", { ...tess, id: "aad-tess-1" }, there, "creating");
      const full = await h.caps.admit(request(h, tess, there, { labsPerUser: 1 }, "t-two"));
      expect(full).toMatchObject({ ok: false, cap: "user", labs: ["t-one"] });
    });

    it("counts live labs per conversation and in all; admins are held by the cap on all labs only", async () => {
      const h = await setup();
      await record(h, "c-one", ada, here, "ready");
      await record(h, "c-two", bob, there, "destroying");
      const perConversation = await h.caps.admit(
        request(h, bob, here, { labsPerConversation: 1 }, "c-three"),
      );
      expect(perConversation).toMatchObject({ ok: false, cap: "conversation", labs: ["c-one"] });
      expect(
        await h.caps.admit(request(h, bob, here, { labsPerConversation: 1 }, "c-three", { exempt: true })),
      ).toEqual({ ok: true });
      const all = await h.caps.admit(request(h, ada, there, { labs: 3 }, "c-four", { exempt: true }));
      expect(all).toMatchObject({ ok: false, cap: "labs" });
      if (all.ok || all.cap !== "labs") throw new Error("not a labs refusal");
      expect([...all.labs].sort()).toEqual(["c-one", "c-three", "c-two"]);
    });

    it("holds a create's name: refused to other conversations and to a second create here, until released", async () => {
      const h = await setup();
      const held = request(h, ada, here, {}, "team-a");
      expect(await h.caps.admit(held)).toEqual({ ok: true });
      expect(await h.peer.admit(request(h, tess, there, {}, "team-a"))).toEqual({
        ok: false,
        cap: "name",
        holder: "pending",
        sameConversation: false,
        owner: JSON.stringify(ada),
      });
      expect(await h.caps.admit(request(h, bob, here, {}, "team-a"))).toMatchObject({
        ok: false,
        cap: "name",
        holder: "pending",
        sameConversation: true,
      });
      await h.caps.release("team-a", "not-the-holder");
      expect(await h.caps.admit(request(h, tess, there, {}, "team-a"))).toMatchObject({ cap: "name" });
      await h.peer.release("team-a", held.token);
      // Recorded in ada's conversation, the name is the record's: refused elsewhere, a retry here is fine.
      await record(h, "team-a", ada, here, "failed");
      expect(await h.caps.admit(request(h, tess, there, {}, "team-a"))).toEqual({
        ok: false,
        cap: "name",
        holder: "record",
        sameConversation: false,
      });
      expect(await h.caps.admit(request(h, ada, here, {}, "team-a"))).toEqual({ ok: true });
    });

    it("cancels an admission as if it had not been asked: its rate entry and its names go, no one else's", async () => {
      const h = await setup();
      const limits = { commands: 2, labsPerUser: 1 };
      const held = request(h, ada, here, limits, "team-c");
      expect(await h.caps.admit(held)).toEqual({ ok: true });
      const other = request(h, bob, there, {}, "team-d");
      expect(await h.caps.admit(other)).toEqual({ ok: true });
      expect(await h.caps.admit(request(h, ada, here, limits, "team-e"))).toMatchObject({ cap: "user" });
      await h.peer.cancel(held);
      // The name is free, ada's rate and lab count have room again: two more admits, then her rate is full.
      expect(await h.caps.admit(request(h, tess, here, {}, "team-c", { token: "t-tess" }))).toEqual({
        ok: true,
      });
      expect(await h.caps.admit(request(h, ada, here, limits, "team-e"))).toEqual({ ok: true });
      expect(await h.caps.admit(request(h, ada, here, limits))).toEqual({ ok: true });
      expect(await h.caps.admit(request(h, ada, here, limits))).toMatchObject({ cap: "rate" });
      // A cancel by a token that holds nothing lets go of nothing.
      await h.caps.cancel({ ...other, token: "not-bob" });
      expect(await h.caps.admit(request(h, ada, there, {}, "team-d"))).toMatchObject({ cap: "name" });
      await h.caps.cancel(other);
      expect(await h.caps.admit(request(h, ada, there, {}, "team-d"))).toEqual({ ok: true });
    });

    it("lets a hold lapse after its time", async () => {
      const h = await setup();
      expect(
        await h.caps.admit(request(h, ada, here, { labsPerUser: 1 }, "lapse-a", { holdMs: 200 })),
      ).toEqual({
        ok: true,
      });
      expect(await h.caps.admit(request(h, tess, there, {}, "lapse-a"))).toMatchObject({ cap: "name" });
      await h.elapse(300);
      expect(await h.caps.admit(request(h, tess, there, {}, "lapse-a"))).toEqual({ ok: true });
      expect(await h.caps.admit(request(h, ada, here, { labsPerUser: 1 }, "lapse-b"))).toEqual({ ok: true });
    });

    it("counts no refused command against the rate", async () => {
      const h = await setup();
      const limits = { labsPerUser: 1, commands: 3 };
      expect(await h.caps.admit(request(h, ada, here, limits, "r-one"))).toEqual({ ok: true });
      for (let i = 0; i < 5; i++) {
        expect(await h.caps.admit(request(h, ada, here, limits, `r-more-${i}`))).toMatchObject({
          cap: "user",
        });
      }
      expect(await h.caps.admit(request(h, ada, here, limits))).toEqual({ ok: true });
      expect(await h.caps.admit(request(h, ada, here, limits))).toEqual({ ok: true });
      expect(await h.caps.admit(request(h, ada, here, limits))).toMatchObject({ cap: "rate" });
    });

    it("admits a workshop's labs only when all its new ones fit under the cap on all labs, then holds them", async () => {
      const h = await setup();
      await record(h, "w-1", ada, here, "ready");
      await record(h, "other", bob, there, "failed");
      const workshop = (limits: Partial<CapLimits>, token: string): AdmitRequest => ({
        ...request(h, ada, here, limits, undefined, { exempt: true, token }),
        batch: { labs: ["w-1", "w-2", "w-3"], holdMs: 60_000, owner: JSON.stringify(ada) },
      });
      // Two live labs, two new ones (w-1 is live already): four do not fit in three, and nothing is held.
      const refused = await h.caps.admit(workshop({ labs: 3 }, "ws-a"));
      expect(refused).toMatchObject({ ok: false, cap: "labs", adding: 2 });
      if (refused.ok || refused.cap !== "labs") throw new Error("not a labs refusal");
      expect([...refused.labs].sort()).toEqual(["other", "w-1"]);
      expect(await h.caps.admit(request(h, bob, here, { labs: 3 }, "solo", { exempt: true }))).toEqual({
        ok: true,
      });
      // In four they fit, and take the room: the next create finds the cap full, and the names held.
      expect(await h.peer.admit(workshop({ labs: 5 }, "ws-b"))).toEqual({ ok: true });
      expect(await h.caps.admit(request(h, bob, there, { labs: 5 }, "late", { exempt: true }))).toMatchObject(
        { ok: false, cap: "labs" },
      );
      expect(await h.caps.admit(request(h, tess, there, {}, "w-2"))).toMatchObject({
        ok: false,
        cap: "name",
        holder: "pending",
      });
      await h.caps.release("w-2", "ws-b");
      await h.caps.release("w-3", "ws-b");
      expect(await h.caps.admit(request(h, bob, there, { labs: 5 }, "late", { exempt: true }))).toEqual({
        ok: true,
      });
    });

    it("lets exactly the room through when many commands arrive at once on two replicas", async () => {
      const h = await setup();
      const flood = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 === 0 ? h.caps : h.peer).admit(request(h, ada, here, { labsPerUser: 2 }, `flood-${i}`)),
        ),
      );
      expect(flood.filter((r) => r.ok)).toHaveLength(2);
      const race = await Promise.all(
        [here, there, { ...here, channel: "C-THIRD" }, { ...there, channel: "19:four" }].map((address, i) =>
          (i % 2 === 0 ? h.caps : h.peer).admit(
            request(h, i % 2 === 0 ? bob : tess, address, {}, "same-name"),
          ),
        ),
      );
      expect(race.filter((r) => r.ok)).toHaveLength(1);
      const carl: ChatUser = { platform: "slack", id: "U-CARL" };
      const rate = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? h.caps : h.peer).admit(request(h, carl, here, { commands: 5 })),
        ),
      );
      expect(rate.filter((r) => r.ok)).toHaveLength(5);
    });
  });
}
