import { describe, expect, it, vi } from "vitest";
import { type Incoming, type IntakeDeps, type IntakeOutcome, intake } from "../../src/commands/intake.ts";
import { parseCommandText } from "../../src/commands/parse.ts";
import { createLogger } from "../../src/log.ts";
import type { ChatAddress, ChatUser } from "../../src/ports/chat.ts";
import { NO_METRICS } from "../../src/ports/metrics.ts";
import { MemoryAuditLog } from "../fakes/audit.ts";
import { MemoryConfirmationStore } from "../fakes/confirmations.ts";
import { MemoryDeliveryLog } from "../fakes/deliveries.ts";
import { MemoryQueue } from "../fakes/queue.ts";
import { MemoryLabRegistry } from "../fakes/registry.ts";
import { labRecord } from "../helpers/lab-record.ts";

const here: ChatAddress = { platform: "slack", tenant: "T1", channel: "C-HERE" };
const elsewhere: ChatAddress = { platform: "slack", tenant: "T1", channel: "C-ELSE" };
const ada: ChatUser = { platform: "slack", id: "U-ADA", name: "ada" };
const bob: ChatUser = { platform: "slack", id: "U-BOB", name: "bob" };
const root: ChatUser = { platform: "slack", id: "U-ROOT", name: "root" };

/** `auditedQueue`: the queue records a queued command's entry with its job, as the Redis queue does. */
function setup(options: { auditedQueue?: boolean } = {}) {
  let now = Date.UTC(2026, 0, 1, 12);
  let seq = 0;
  const audit = new MemoryAuditLog();
  const queue = new MemoryQueue(options.auditedQueue === false ? undefined : audit);
  const registry = new MemoryLabRegistry();
  const clock = { now: () => now };
  const confirmations = new MemoryConfirmationStore(clock);
  const deliveries = new MemoryDeliveryLog(clock);
  const counted: string[] = [];
  const deps: IntakeDeps = {
    queue,
    registry,
    confirmations,
    audit,
    deliveries,
    admins: ["slack:U-ROOT", "teams:AAD-ADMIN"],
    logger: createLogger({ level: "silent" }),
    clock,
    metrics: { ...NO_METRICS, commandReceived: (p, k, o) => counted.push(`${p} ${k} ${o}`) },
  };
  const base = (user: ChatUser, address: ChatAddress) => {
    seq += 1;
    return { deliveryId: `d${seq}`, correlationId: `c-${seq}`, origin: { address, user }, receivedAt: now };
  };
  return {
    counted,
    queue,
    registry,
    confirmations,
    audit,
    deliveries,
    advance: (ms: number) => {
      now += ms;
    },
    say(text: string, user = ada, address = here): Promise<IntakeOutcome> {
      return intake({ ...base(user, address), parsed: parseCommandText(text) }, deps);
    },
    press(confirmationId: string, confirm: boolean, user = ada, address = here): Promise<IntakeOutcome> {
      return intake({ ...base(user, address), answer: { confirmationId, confirm } }, deps);
    },
    raw(incoming: Incoming) {
      return intake(incoming, deps);
    },
  };
}

function confirmationOf(outcome: IntakeOutcome): string {
  if (outcome.kind !== "confirm")
    throw new Error(`expected a confirmation, got ${outcome.kind}: ${outcome.text}`);
  return outcome.prompt.confirmationId;
}

describe("intake: permissions", () => {
  it("refuses a non-owner's destroy with a message that says who may, and queues nothing", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    const outcome = await t.say("lab destroy team-a --yes", bob);
    expect(outcome).toMatchObject({ kind: "refused", reason: "not_owner" });
    expect(outcome.text).toMatch(
      /Only <@U-ADA>, who created `team-a`, a member they granted, or an admin can destroy it/,
    );
    expect(t.queue.jobs).toHaveLength(0);
    expect(t.audit.entries.at(-1)).toMatchObject({
      result: "refused",
      reason: "not_owner",
      lab: "team-a",
      userId: "U-BOB",
    });
  });

  it("lets an admin destroy someone else's lab, in its conversation only", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    expect(await t.say("lab destroy team-a --yes", root, elsewhere)).toMatchObject({
      kind: "refused",
      reason: "wrong_conversation",
    });
    expect(await t.say("lab destroy team-a --yes", root)).toMatchObject({ kind: "queued" });
    expect(t.queue.jobs[0]?.command).toEqual({ kind: "lab.destroy", lab: "team-a", confirmed: true });
  });

  it("keeps rotate and rollback for the owner or an admin", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    expect(await t.say("secret rotate color orange", bob)).toMatchObject({
      kind: "refused",
      reason: "not_owner",
    });
    expect(await t.say("secret rollback color", bob)).toMatchObject({ kind: "refused", reason: "not_owner" });
    expect(await t.say("secret list", bob)).toMatchObject({ kind: "queued" });
    expect(await t.say("secret rotate color orange", ada)).toMatchObject({ kind: "queued" });
    expect(t.queue.jobs.map((j) => j.command.kind)).toEqual(["secret.list", "secret.rotate"]);
  });

  it("treats Teams admins by AAD object id, case-insensitively", async () => {
    const t = setup();
    const channel: ChatAddress = { platform: "teams", tenant: "tid", channel: "19:x@thread.tacv2" };
    const owner: ChatUser = { platform: "teams", id: "aad-owner" };
    await t.registry.create(labRecord("team-t", owner, channel));
    const admin: ChatUser = { platform: "teams", id: "aad-admin" };
    expect(await t.say("lab destroy team-t --yes", admin, channel)).toMatchObject({ kind: "queued" });
  });
});

describe("intake: the lab of the conversation", () => {
  it("fills in --lab when the conversation has exactly one lab", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    await t.registry.create(labRecord("team-b", ada, elsewhere));
    expect(await t.say("secret rotate color orange")).toMatchObject({ kind: "queued" });
    expect(t.queue.jobs[0]?.command).toMatchObject({ kind: "secret.rotate", lab: "team-a" });
  });

  it("lists the labs when there are several, and says how to create one when there is none", async () => {
    const t = setup();
    expect(await t.say("secret list")).toMatchObject({ kind: "refused", reason: "no_lab_here" });
    await t.registry.create(labRecord("team-a", ada, here));
    await t.registry.create(labRecord("team-b", ada, here));
    const outcome = await t.say("secret rollback color");
    expect(outcome).toMatchObject({ kind: "refused", reason: "several_labs_here" });
    expect(outcome.text).toMatch(/2 labs \(`team-a`, `team-b`\).*--lab/);
    expect(t.queue.jobs).toHaveLength(0);
  });

  it("answers a create of a ready lab with its status, refuses a second lab of the same name, and lets the owner retry a failed one", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here, "ready"));
    expect(await t.say("lab create team-a")).toMatchObject({ kind: "queued" });
    expect(t.queue.jobs.at(-1)?.command).toEqual({ kind: "lab.status", lab: "team-a" });
    await t.registry.update("team-a", (r) => ({ ...r, state: "creating" }));
    expect(await t.say("lab create team-a")).toMatchObject({ kind: "refused", reason: "lab_exists" });
    await t.registry.update("team-a", (r) => ({ ...r, state: "ready" }));
    expect(await t.say("lab create team-a", ada, elsewhere)).toMatchObject({
      kind: "refused",
      reason: "name_taken",
    });
    await t.registry.update("team-a", (r) => ({ ...r, state: "failed" }));
    expect(await t.say("lab create team-a", bob)).toMatchObject({ kind: "refused", reason: "not_owner" });
    expect(await t.say("lab create team-a", ada)).toMatchObject({ kind: "queued" });
  });
});

describe("intake: destroy confirmations", () => {
  it("asks first; the same user's Confirm queues the destroy once, with the request's correlation id", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    const asked = await t.say("lab destroy team-a");
    const id = confirmationOf(asked);
    expect(t.queue.jobs).toHaveLength(0);
    expect(
      asked.kind === "confirm" && asked.card.actions?.map((a) => (a.kind === "button" ? a.id : a.kind)),
    ).toEqual(["destroy.confirm", "destroy.cancel"]);
    const confirmed = await t.press(id, true);
    expect(confirmed).toMatchObject({ kind: "queued" });
    expect(confirmed.text).toMatch(/Confirmed by <@U-ADA>/);
    expect(t.queue.jobs[0]).toMatchObject({
      command: { kind: "lab.destroy", lab: "team-a", confirmed: true },
      correlationId: "c-1",
    });
    expect(t.audit.entries.map((e) => [e.result, e.correlationId])).toEqual([
      ["confirmation_requested", "c-1"],
      ["queued", "c-1"],
    ]);
  });

  it("refuses a replayed confirmation: it is single use", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    const id = confirmationOf(await t.say("lab destroy team-a"));
    expect(await t.press(id, true)).toMatchObject({ kind: "queued" });
    expect(await t.press(id, true)).toMatchObject({ kind: "refused", reason: "confirmation_unknown" });
    expect(t.queue.jobs).toHaveLength(1);
  });

  it("refuses an expired confirmation and destroys nothing", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    const id = confirmationOf(await t.say("lab destroy team-a"));
    t.advance(5 * 60_000 + 1);
    const outcome = await t.press(id, true);
    expect(outcome).toMatchObject({ kind: "refused", reason: "confirmation_expired" });
    expect(outcome.text).toMatch(/expired.*Run `\/lab destroy team-a` again/);
    expect(t.queue.jobs).toHaveLength(0);
  });

  it("lets only the asker answer: someone else's press leaves the confirmation for its owner", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    const id = confirmationOf(await t.say("lab destroy team-a"));
    expect(await t.press(id, true, root)).toMatchObject({
      kind: "refused",
      reason: "confirmation_other_user",
    });
    expect(await t.press(id, true, ada)).toMatchObject({ kind: "queued" });
  });

  it("cancels, and a cancelled confirmation cannot be confirmed afterwards", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    const id = confirmationOf(await t.say("lab destroy team-a"));
    expect(await t.press(id, false)).toMatchObject({ kind: "cancelled" });
    expect(await t.press(id, true)).toMatchObject({ kind: "refused" });
    expect(t.queue.jobs).toHaveLength(0);
  });

  it("checks ownership again at Confirm: the lab may have changed hands meanwhile", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    const id = confirmationOf(await t.say("lab destroy team-a"));
    await t.registry.update("team-a", (r) => ({ ...r, owner: bob }));
    expect(await t.press(id, true)).toMatchObject({ kind: "refused", reason: "not_owner" });
  });
});

describe("intake: deliveries, audit, values", () => {
  it("counts a delivery once: a retry neither queues, audits nor answers twice", async () => {
    const t = setup();
    const incoming: Incoming = {
      deliveryId: "slack.T1.Ev123",
      correlationId: "c-x",
      origin: { address: here, user: ada },
      receivedAt: 0,
      parsed: parseCommandText("lab list"),
    };
    expect(await t.raw(incoming)).toMatchObject({ kind: "queued" });
    expect(await t.raw({ ...incoming, correlationId: "c-y" })).toMatchObject({ kind: "duplicate" });
    expect(t.queue.jobs).toHaveLength(1);
    expect(t.audit.entries).toHaveLength(1);
  });

  it("audits who, what, where, the result and the correlation id, never a value", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    await t.say("secret rotate color CANARY-7f3a --lab team-a");
    await t.say('secret rotate color "CANARY-7f3a" and more words');
    const text = JSON.stringify(t.audit.entries);
    expect(text).not.toContain("CANARY");
    expect(t.audit.entries[0]).toMatchObject({
      userId: "U-ADA",
      userName: "ada",
      platform: "slack",
      channel: "C-HERE",
      command: "secret rotate color --lab team-a",
      kind: "secret.rotate",
      lab: "team-a",
      result: "queued",
      correlationId: "c-1",
      jobId: "d-d1",
    });
    expect(t.audit.entries[1]).toMatchObject({ result: "rejected", command: "(unreadable)" });
    expect(await t.audit.recent({ lab: "team-a" })).toHaveLength(1);
  });

  it.each([
    ["records the entry with the job", true],
    ["leaves the entry to intake", false],
  ])("audits a queued command once, with its job id, whether the queue %s", async (_, auditedQueue) => {
    const t = setup({ auditedQueue });
    const outcome = await t.say("lab create team-q");
    expect(outcome).toMatchObject({ kind: "queued", jobId: "d-d1" });
    expect(t.audit.entries).toEqual([
      expect.objectContaining({ result: "queued", jobId: "d-d1", kind: "lab.create", lab: "team-q" }),
    ]);
    expect(t.counted).toEqual(["slack lab.create queued"]);
  });

  it("answers Queued when the enqueue's answer was lost but its job was stored, and audits it once", async () => {
    const t = setup();
    const enqueue = t.queue.enqueue.bind(t.queue);
    t.queue.enqueue = async (envelope, audit) => {
      await enqueue(envelope, audit);
      throw new Error("Command timed out");
    };
    const incoming: Incoming = {
      deliveryId: "slack.T1.lost",
      correlationId: "c-lost",
      origin: { address: here, user: ada },
      receivedAt: 0,
      parsed: parseCommandText("lab create team-q"),
    };
    expect(await t.raw(incoming)).toMatchObject({ kind: "queued", jobId: "d-slack.T1.lost" });
    expect(t.queue.jobs).toHaveLength(1);
    expect(t.audit.entries.map((e) => [e.result, e.jobId])).toEqual([["queued", "d-slack.T1.lost"]]);
    // The claim stands: the platform's retry of the delivery is one.
    expect(await t.raw({ ...incoming, correlationId: "c-again" })).toMatchObject({ kind: "duplicate" });
  });

  it("audits an enqueue that failed as unavailable, and no queued entry", async () => {
    const t = setup();
    t.queue.failing = true;
    expect(await t.say("lab create team-q")).toMatchObject({ kind: "unavailable" });
    expect(t.audit.entries.map((e) => e.result)).toEqual(["unavailable"]);
  });

  it("asks for the value privately, only when the sender may rotate", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    expect(await t.say("secret rotate color", ada)).toMatchObject({ kind: "needs_value" });
    expect(await t.say("secret rotate color", bob)).toMatchObject({ kind: "refused", reason: "not_owner" });
  });

  it("says the queue is down, changes nothing, and lets the retry through", async () => {
    const t = setup();
    t.queue.failing = true;
    const incoming: Incoming = {
      deliveryId: "slack.T1.trig-1",
      correlationId: "c-q",
      origin: { address: here, user: ada },
      receivedAt: 0,
      parsed: parseCommandText("lab list"),
    };
    expect(await t.raw(incoming)).toMatchObject({ kind: "unavailable" });
    t.queue.failing = false;
    expect(await t.raw(incoming)).toMatchObject({ kind: "queued" });
  });
});

describe("intake: round trips", () => {
  /** A delivery log whose claims answer only when told to, and a registry that notes its reads. */
  function gated() {
    const t = setup();
    const reads: string[] = [];
    let open: () => void = () => undefined;
    const claimed = new Promise<void>((resolve) => {
      open = resolve;
    });
    const deliveries = {
      claim: async (id: string, ttlMs: number) => {
        await claimed;
        return t.deliveries.claim(id, ttlMs);
      },
      release: (id: string) => t.deliveries.release(id),
    };
    const registry = {
      get: (name: string) => {
        reads.push(`get ${name}`);
        return t.registry.get(name);
      },
      list: () => {
        reads.push("list");
        return t.registry.list();
      },
    };
    return { t, reads, open, deliveries, registry };
  }

  it.each([
    ["secret rotate color orange --lab team-a", ["get team-a"]],
    ["secret rotate color orange", ["list"]],
  ])("reads the registry for %s while the delivery is being claimed, once", async (text, expected) => {
    const { t, reads, open, deliveries, registry } = gated();
    await t.registry.create(labRecord("team-a", ada, here, "ready"));
    const deps: IntakeDeps = {
      queue: t.queue,
      registry,
      confirmations: t.confirmations,
      audit: t.audit,
      deliveries,
      admins: [],
      logger: createLogger({ level: "silent" }),
      clock: { now: () => 0 },
    };
    const base = {
      deliveryId: "d-rt",
      correlationId: "c-rt",
      origin: { address: here, user: ada },
      receivedAt: 0,
    };
    const outcome = intake({ ...base, parsed: parseCommandText(text) }, deps);
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads).toEqual(expected);
    open();
    expect(await outcome).toMatchObject({ kind: "queued" });
    expect(reads).toEqual(expected);
  });

  it("still answers a duplicate as one, and a registry that fails before the claim changes nothing", async () => {
    const { t, open, deliveries } = gated();
    open();
    await t.deliveries.claim("d-dup", 60_000);
    const failing = {
      get: () => Promise.reject(new Error("redis down")),
      list: () => Promise.reject(new Error("redis down")),
    };
    const deps: IntakeDeps = {
      queue: t.queue,
      registry: failing,
      confirmations: t.confirmations,
      audit: t.audit,
      deliveries,
      admins: [],
      logger: createLogger({ level: "silent" }),
      clock: { now: () => 0 },
    };
    const base = { correlationId: "c-dup", origin: { address: here, user: ada }, receivedAt: 0 };
    const parsed = parseCommandText("secret rotate color orange --lab team-a");
    expect(await intake({ ...base, deliveryId: "d-dup", parsed }, deps)).toMatchObject({ kind: "duplicate" });
    expect(await intake({ ...base, deliveryId: "d-new", parsed }, deps)).toMatchObject({
      kind: "unavailable",
    });
    expect(t.queue.jobs).toHaveLength(0);
  });
});

describe("intake: commands about a lab that does not exist are answered at once, never queued", () => {
  it("answers `lab destroy nope` with the labs here, without a confirmation or a job", async () => {
    const t = setup();
    const asked = vi.spyOn(t.confirmations, "create");
    await t.registry.create(labRecord("team-a", ada, here));
    await t.registry.create(labRecord("team-z", ada, elsewhere));
    const outcome = await t.say("lab destroy nope");
    expect(outcome).toMatchObject({ kind: "refused", reason: "no_lab" });
    expect(outcome.text).toBe("There is no lab `nope`; labs here: `team-a`.");
    expect(asked).not.toHaveBeenCalled();
    expect(t.queue.jobs).toHaveLength(0);
    expect(t.audit.entries.at(-1)).toMatchObject({ result: "refused", reason: "no_lab", lab: "nope" });
  });

  it("answers `lab extend nope`, `lab status nope` and `secret list --lab nope` the same way", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada, here));
    for (const text of ["lab extend nope --by 2h", "lab status nope", "secret list --lab nope"]) {
      const outcome = await t.say(text);
      expect(outcome, text).toMatchObject({ kind: "refused", reason: "no_lab" });
      expect(outcome.text, text).toBe("There is no lab `nope`; labs here: `team-a`.");
    }
    expect(t.queue.jobs).toHaveLength(0);
  });

  it("answers `lab status` and the secret commands in a conversation without labs instead of queuing", async () => {
    const t = setup();
    const asked = vi.spyOn(t.confirmations, "create");
    await t.registry.create(labRecord("team-z", ada, elsewhere));
    const status = await t.say("lab status");
    expect(status).toMatchObject({ kind: "refused", reason: "no_lab_here" });
    expect(status.text).toMatch(/^This conversation has no lab\. Create one with `\/lab create NAME`/);
    expect(await t.say("secret list")).toMatchObject({ kind: "refused", reason: "no_lab_here" });
    const named = await t.say("secret rotate color orange --lab nope");
    expect(named).toMatchObject({ kind: "refused", reason: "no_lab" });
    expect(named.text).toBe(
      "There is no lab `nope`, and this conversation has none: create one with `/lab create NAME`, or say `/lab list` to see every lab.",
    );
    expect(asked).not.toHaveBeenCalled();
    expect(t.queue.jobs).toHaveLength(0);
  });
});

describe("intake: host clusters and workshops (admins)", () => {
  it("refuses host and workshop creates and destroys to non-admins, and lets anyone read their status", async () => {
    const t = setup();
    for (const text of [
      "host create ws",
      "host destroy ws --yes",
      "workshop create ws --teams 3",
      "workshop destroy ws --yes",
    ]) {
      const outcome = await t.say(text, ada);
      expect(outcome, text).toMatchObject({ kind: "refused", reason: "not_admin" });
      expect(outcome.text).toMatch(/Only an admin/);
    }
    expect(t.queue.jobs).toHaveLength(0);
    expect(await t.say("host status ws", ada)).toMatchObject({ kind: "queued" });
    expect(await t.say("workshop status ws", ada)).toMatchObject({ kind: "queued" });
  });

  it("asks an admin to confirm a host's destroy, and queues it confirmed once pressed", async () => {
    const t = setup();
    expect(await t.say("host create ws --nodes 3", root)).toMatchObject({ kind: "queued" });
    const asked = await t.say("host destroy ws --force", root);
    expect(asked.text).toMatch(/Destroy host `ws`\?/);
    if (asked.kind === "confirm") expect(asked.prompt.text).toMatch(/destroys every lab on it first/);
    expect(await t.press(confirmationOf(asked), true, root)).toMatchObject({ kind: "queued" });
    expect(t.queue.jobs.map((j) => j.command)).toEqual([
      { kind: "host.create", host: "ws", nodeCount: 3, ttlMs: undefined },
      { kind: "host.destroy", host: "ws", force: true, confirmed: true },
    ]);
  });

  it("asks to confirm a workshop's destroy, and cancels it on Cancel", async () => {
    const t = setup();
    const asked = await t.say("workshop destroy ws", root);
    expect(asked.text).toMatch(/Destroy workshop `ws`\?/);
    expect(await t.press(confirmationOf(asked), false, root)).toMatchObject({
      kind: "cancelled",
      text: "Cancelled: workshop `ws` stays as it is.",
    });
    expect(t.queue.jobs).toHaveLength(0);
  });
});
