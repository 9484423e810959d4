import { describe, expect, it } from "vitest";
import { authorize } from "../../src/commands/authorize.ts";
import { type IntakeDeps, type IntakeOutcome, intake } from "../../src/commands/intake.ts";
import { MAX_MEMBERS } from "../../src/commands/members.ts";
import { parseCommandText, parseSlashCommand } from "../../src/commands/parse.ts";
import { createLogger } from "../../src/log.ts";
import type { ChatAddress, ChatUser } from "../../src/ports/chat.ts";
import { MemoryAuditLog } from "../fakes/audit.ts";
import { MemoryConfirmationStore } from "../fakes/confirmations.ts";
import { MemoryDeliveryLog } from "../fakes/deliveries.ts";
import { MemoryQueue } from "../fakes/queue.ts";
import { MemoryLabRegistry } from "../fakes/registry.ts";
import { labRecord } from "../helpers/lab-record.ts";

const here: ChatAddress = { platform: "slack", tenant: "T1", channel: "C-HERE" };
const elsewhere: ChatAddress = { platform: "slack", tenant: "T1", channel: "C-ELSE" };
const ada: ChatUser = { platform: "slack", id: "U0ADA", name: "ada" };
const bob: ChatUser = { platform: "slack", id: "U0BOB", name: "bob" };
const root: ChatUser = { platform: "slack", id: "U0ROOT", name: "root" };

describe("lab grant / lab revoke: parsing", () => {
  it("reads Slack's escaped mention, with or without the name", () => {
    expect(parseSlashCommand("/lab", "grant team-a <@U0BOB|bob>")).toEqual({
      ok: true,
      command: { kind: "lab.grant", lab: "team-a", member: "U0BOB" },
    });
    expect(parseCommandText("lab revoke team-a <@U0BOB>")).toEqual({
      ok: true,
      command: { kind: "lab.revoke", lab: "team-a", member: "U0BOB" },
    });
  });

  it.each([
    "lab grant team-a @bob",
    "lab grant team-a bob",
    "lab grant team-a",
    "lab grant team-a <@U0BOB> <@U0ADA>",
    "lab grant team-a <@U0BOB|b<x>",
    "lab grant team-a <at>Bob</at>",
    "lab grant team-a <@U0BOB> --yes",
  ])("refuses %s with one message saying to mention the member", (text) => {
    const parsed = parseCommandText(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.rejection.message).toMatch(/mention|Unknown option/);
  });

  it("refuses an invalid lab name before looking at the mention", () => {
    const parsed = parseCommandText("lab grant Team_A <@U0BOB>");
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.rejection.message).toContain("is not a valid lab name");
  });
});

describe("authorize with members", () => {
  const record = { ...labRecord("team-a", ada, here), members: [bob] };
  const rotate = { kind: "secret.rotate", secret: "color", value: undefined, lab: "team-a" } as const;

  it("lets a member do what the owner may, in the lab's conversation only", () => {
    expect(authorize(rotate, bob, here, record, [])).toEqual({ ok: true });
    expect(authorize({ kind: "lab.extend", lab: "team-a", byMs: undefined }, bob, here, record, [])).toEqual({
      ok: true,
    });
    expect(authorize(rotate, bob, elsewhere, record, [])).toMatchObject({ reason: "wrong_conversation" });
    const other: ChatUser = { platform: "slack", id: "U0EVE" };
    expect(authorize(rotate, other, here, record, [])).toMatchObject({ reason: "not_owner" });
  });

  it("keeps granting and revoking to the owner and admins", () => {
    const grant = { kind: "lab.grant", lab: "team-a", member: "U0EVE" } as const;
    expect(authorize(grant, bob, here, record, [])).toMatchObject({ reason: "not_owner" });
    expect(authorize(grant, ada, here, record, [])).toEqual({ ok: true });
    expect(authorize(grant, root, here, record, ["slack:U0ROOT"])).toEqual({ ok: true });
    expect(authorize(grant, ada, elsewhere, record, [])).toMatchObject({ reason: "wrong_conversation" });
  });

  it("reads a record written before members existed", () => {
    expect(authorize(rotate, bob, here, labRecord("team-a", ada, here), [])).toMatchObject({
      reason: "not_owner",
    });
  });
});

describe("lab grant / lab revoke at intake", () => {
  function setup() {
    let seq = 0;
    const registry = new MemoryLabRegistry();
    const queue = new MemoryQueue();
    const audit = new MemoryAuditLog();
    const clock = { now: () => Date.UTC(2026, 0, 1, 12) };
    const deps: IntakeDeps = {
      queue,
      registry,
      members: registry,
      confirmations: new MemoryConfirmationStore(clock),
      audit,
      deliveries: new MemoryDeliveryLog(clock),
      admins: ["slack:U0ROOT"],
      logger: createLogger({ level: "silent" }),
      clock,
    };
    const say = (text: string, user: ChatUser, address = here): Promise<IntakeOutcome> => {
      seq += 1;
      return intake(
        {
          deliveryId: `d${seq}`,
          correlationId: `c-${seq}`,
          origin: { address, user },
          receivedAt: clock.now(),
          parsed: parseCommandText(text),
        },
        deps,
      );
    };
    return { registry, queue, audit, say };
  }

  it("grants, lets the member act, revokes, and audits each step; nothing is queued by grant", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    expect(await t.say("secret rotate color orange", bob)).toMatchObject({
      kind: "refused",
      reason: "not_owner",
    });
    const granted = await t.say("lab grant team-a <@U0BOB|bob>", ada);
    expect(granted.kind).toBe("help");
    expect(granted.text).toContain("<@U0BOB> may now");
    expect(t.queue.jobs).toHaveLength(0);
    expect((await t.registry.get("team-a"))?.members).toEqual([{ platform: "slack", id: "U0BOB" }]);
    expect(await t.say("secret rotate color orange", bob)).toMatchObject({ kind: "queued" });
    expect((await t.say("lab grant team-a <@U0BOB>", ada)).text).toContain("already a member");
    expect((await t.say("lab grant team-a <@U0ADA>", ada)).text).toContain("owns lab");
    expect(await t.say("lab grant team-a <@U0EVE>", bob)).toMatchObject({ reason: "not_owner" });
    expect((await t.say("lab revoke team-a <@U0BOB>", root)).text).toContain("no longer a member");
    expect(await t.say("secret rotate color orange", bob)).toMatchObject({ reason: "not_owner" });
    const entries = await t.audit.recent({ limit: 50 });
    expect(entries.filter((e) => e.kind === "lab.grant").map((e) => e.result)).toContain("answered");
    expect(entries.some((e) => e.kind === "lab.revoke" && e.result === "answered")).toBe(true);
  });

  it("refuses a grant from another conversation and a lab that does not exist", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    expect(await t.say("lab grant team-a <@U0BOB>", ada, elsewhere)).toMatchObject({
      reason: "wrong_conversation",
    });
    expect(await t.say("lab grant nope <@U0BOB>", ada)).toMatchObject({ reason: "no_lab" });
    expect((await t.registry.get("team-a"))?.members).toBeUndefined();
  });

  it(`stops at ${MAX_MEMBERS} members`, async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    for (let i = 0; i < MAX_MEMBERS; i++) await t.say(`lab grant team-a <@U0M${i}>`, ada);
    expect(await t.say("lab grant team-a <@U0LAST>", ada)).toMatchObject({ reason: "too_many_members" });
    expect((await t.registry.get("team-a"))?.members).toHaveLength(MAX_MEMBERS);
  });
});
