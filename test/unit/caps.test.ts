import { describe, expect, it } from "vitest";
import { type CapSettings, lifetimeEnd, names } from "../../src/commands/caps.ts";
import { type IntakeDeps, type IntakeOutcome, intake } from "../../src/commands/intake.ts";
import { parseCommandText } from "../../src/commands/parse.ts";
import { loadConfig } from "../../src/config.ts";
import type { ConfigError } from "../../src/errors.ts";
import { createLogger } from "../../src/log.ts";
import type { ChatAddress, ChatUser } from "../../src/ports/chat.ts";
import type { CommandQueue } from "../../src/ports/queue.ts";
import { MemoryAuditLog } from "../fakes/audit.ts";
import { MemoryLabCaps } from "../fakes/caps.ts";
import { ManualClock } from "../fakes/clock.ts";
import { MemoryConfirmationStore } from "../fakes/confirmations.ts";
import { MemoryDeliveryLog } from "../fakes/deliveries.ts";
import { MemoryQueue } from "../fakes/queue.ts";
import { MemoryLabRegistry } from "../fakes/registry.ts";
import { testEnv } from "../helpers/env.ts";
import { labRecord } from "../helpers/lab-record.ts";

/** The caps as intake applies them (src/commands/caps.ts), over the in-memory caps and a ManualClock. */

const here: ChatAddress = { platform: "slack", tenant: "T1", channel: "C-HERE" };
const elsewhere: ChatAddress = { platform: "teams", tenant: "tenant-1", channel: "19:else@thread.tacv2" };
const ada: ChatUser = { platform: "slack", id: "U-ADA", name: "ada" };
const bob: ChatUser = { platform: "slack", id: "U-BOB", name: "bob" };
const tess: ChatUser = { platform: "teams", id: "AAD-TESS", name: "Tess" };
const root: ChatUser = { platform: "slack", id: "U-ROOT", name: "root" };

const DEFAULTS: CapSettings = {
  maxLabsPerUser: 2,
  maxLabsPerConversation: 3,
  maxLabs: 40,
  maxCommandsPerMinute: 20,
  maxLabLifetimeMs: 24 * 3_600_000,
};

function setup(settings: Partial<CapSettings> = {}, options: { queue?: CommandQueue } = {}) {
  const clock = new ManualClock();
  const queue = new MemoryQueue();
  const registry = new MemoryLabRegistry();
  const audit = new MemoryAuditLog();
  let seq = 0;
  const deps: IntakeDeps = {
    queue: options.queue ?? queue,
    registry,
    confirmations: new MemoryConfirmationStore(clock),
    audit,
    deliveries: new MemoryDeliveryLog(clock),
    admins: ["slack:U-ROOT"],
    logger: createLogger({ level: "silent" }),
    clock,
    caps: { store: new MemoryLabCaps(registry), settings: { ...DEFAULTS, ...settings }, timeScale: 1 },
    members: registry,
  };
  return {
    clock,
    queue,
    registry,
    audit,
    /** The same delivery, sent again each call (a platform's retry). */
    raw(text: string, deliveryId: string, user = ada, address = here): () => Promise<IntakeOutcome> {
      const parsed = parseCommandText(text);
      return () => {
        // A correlation id of its own, as the adapters make one per request.
        seq += 1;
        const correlationId = `c-${seq}`;
        const origin = { address, user };
        return intake({ deliveryId, correlationId, origin, receivedAt: clock.now(), parsed }, deps);
      };
    },
    say(text: string, user = ada, address = here): Promise<IntakeOutcome> {
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
    },
  };
}

describe("caps at intake: live labs", () => {
  it("queues a person's creates up to LABOPS_MAX_LABS_PER_USER, then refuses naming their labs and what to do", async () => {
    const t = setup();
    const first = await t.say("lab create fl-0 --ttl 7d");
    expect(first).toMatchObject({ kind: "queued" });
    expect(first.text).toMatch(/ It will live 1d, the longest a lab may \(LABOPS_MAX_LAB_LIFETIME\)\.$/);
    expect(await t.say("lab create fl-1 --ttl 7d")).toMatchObject({ kind: "queued" });
    const refused = await t.say("lab create fl-2 --ttl 7d");
    expect(refused).toMatchObject({ kind: "refused", reason: "cap_user" });
    expect(refused.text).toBe(
      "You already have 2 live labs (`fl-0`, `fl-1`), the most one person may have (LABOPS_MAX_LABS_PER_USER=2); failed labs and labs being created or destroyed count. Nothing was queued. Destroy one with `/lab destroy NAME`, or ask an admin (LABOPS_ADMINS) to create `fl-2`.",
    );
    expect(t.queue.jobs).toHaveLength(2);
    expect(t.audit.entries.at(-1)).toMatchObject({ result: "refused", reason: "cap_user", lab: "fl-2" });
  });

  it("counts recorded labs, failed ones too, but not destroyed ones", async () => {
    const t = setup();
    await t.registry.create(labRecord("old-a", ada, here, "failed"));
    await t.registry.create(labRecord("old-b", ada, elsewhere, "destroyed"));
    expect(await t.say("lab create new-a")).toMatchObject({ kind: "queued" });
    expect(await t.say("lab create new-b")).toMatchObject({ kind: "refused", reason: "cap_user" });
    // Retrying the failed lab adds no lab.
    expect(await t.say("lab create old-a")).toMatchObject({ kind: "queued" });
  });

  it("refuses a conversation's lab past LABOPS_MAX_LABS_PER_CONVERSATION, whoever asks", async () => {
    const t = setup({ maxLabsPerConversation: 2 });
    await t.say("lab create ch-a", ada);
    await t.say("lab create ch-b", bob);
    const refused = await t.say("lab create ch-c", { platform: "slack", id: "U-CARL" });
    expect(refused).toMatchObject({ kind: "refused", reason: "cap_conversation" });
    expect(refused.text).toContain("This conversation already has 2 live labs (`ch-a`, `ch-b`)");
    expect(refused.text).toContain("LABOPS_MAX_LABS_PER_CONVERSATION=2");
    expect(await t.say("lab create ch-c", tess, elsewhere)).toMatchObject({ kind: "queued" });
  });

  it("exempts admins from the per-user and per-conversation caps, not from LABOPS_MAX_LABS", async () => {
    const t = setup({ maxLabs: 5 });
    for (const i of [1, 2, 3, 4, 5]) {
      expect(await t.say(`lab create adm-${i}`, root)).toMatchObject({ kind: "queued" });
    }
    const refused = await t.say("lab create adm-6", root);
    expect(refused).toMatchObject({ kind: "refused", reason: "cap_labs" });
    expect(refused.text).toContain(
      "labops already runs 5 live labs, the most it may run at once (LABOPS_MAX_LABS=5)",
    );
    expect(await t.say("lab create mine", ada, elsewhere)).toMatchObject({ reason: "cap_labs" });
  });

  it("refuses a workshop at intake when its teams would pass LABOPS_MAX_LABS, saying how many fit", async () => {
    const t = setup({ maxLabs: 10, maxLabsPerUser: 1, maxLabsPerConversation: 1 });
    for (const i of [1, 2, 3]) await t.registry.create(labRecord(`old-${i}`, ada, elsewhere, "ready"));
    const refused = await t.say("workshop create ws --teams 8", root);
    expect(refused).toMatchObject({ kind: "refused", reason: "cap_labs" });
    expect(refused.text).toBe(
      "A workshop of 8 teams would add 8 labs to the 3 live ones, more than labops may run at once (LABOPS_MAX_LABS=10); every lab not yet destroyed counts, admins' too. Nothing was queued. Make it at most 7 teams (`workshop create ws --teams 7`), or destroy labs no longer used (say `/lab list` to see them), or raise LABOPS_MAX_LABS.",
    );
    expect(t.queue.jobs).toHaveLength(0);
    // Seven fit (the admin is exempt from the per-person and per-conversation caps), and take the room.
    expect(await t.say("workshop create ws --teams 7", root)).toMatchObject({ kind: "queued" });
    expect(await t.say("lab create one-more", root)).toMatchObject({ kind: "refused", reason: "cap_labs" });
  });

  it("lets go of a workshop's held names when it could not be queued", async () => {
    let down = true;
    const working = new MemoryQueue();
    const queue: CommandQueue = {
      enqueue: (envelope) => (down ? Promise.reject(new Error("queue down")) : working.enqueue(envelope)),
    };
    const t = setup({ maxLabs: 4 }, { queue });
    expect(await t.say("workshop create ws --teams 4", root)).toMatchObject({ kind: "unavailable" });
    down = false;
    expect(await t.say("workshop create ws --teams 4", root)).toMatchObject({ kind: "queued" });
  });

  it("gives the name to one of two conversations creating it at once; the other is told whose it is", async () => {
    const t = setup();
    const [a, b] = await Promise.all([
      t.say("lab create team-a", ada),
      t.say("lab create team-a", tess, elsewhere),
    ]);
    expect([a?.kind, b?.kind].sort()).toEqual(["queued", "refused"]);
    const loser = a?.kind === "refused" ? a : b;
    // The suggestion is written as the loser types it: a slash command in Slack, an @mention in Teams.
    const typed = loser === a ? "/lab" : "@labops lab"; // ada asks in Slack, tess in Teams
    expect(loser?.text).toBe(
      `Lab \`team-a\` belongs to another conversation (it is being created there). Nothing was queued. Pick another name, e.g. \`${typed} create team-a-2\`.`,
    );
    expect(t.queue.jobs).toHaveLength(1);
  });

  it("refuses a second create of a queued lab in the same conversation, naming who asked first", async () => {
    const t = setup();
    await t.say("lab create team-b", ada);
    const again = await t.say("lab create team-b", bob);
    expect(again).toMatchObject({ kind: "refused", reason: "cap_name" });
    expect(again.text).toBe(
      "Lab `team-b` is already queued to be created here by <@U-ADA>; its thread will show progress. Nothing more was queued.",
    );
  });

  it("lets go of the name when the create could not be queued", async () => {
    let down = true;
    const working = new MemoryQueue();
    const queue: CommandQueue = {
      enqueue: (envelope) => (down ? Promise.reject(new Error("queue down")) : working.enqueue(envelope)),
    };
    const t = setup({}, { queue });
    expect(await t.say("lab create team-c", ada)).toMatchObject({ kind: "unavailable" });
    down = false;
    expect(await t.say("lab create team-c", tess, elsewhere)).toMatchObject({ kind: "queued" });
  });
});

describe("caps at intake: commands per minute", () => {
  it("refuses past LABOPS_MAX_COMMANDS_PER_MINUTE with when to retry, then takes commands again", async () => {
    const t = setup({ maxCommandsPerMinute: 3 });
    for (let i = 0; i < 3; i++) expect(await t.say("lab list")).toMatchObject({ kind: "queued" });
    await t.clock.advance(20_000);
    const refused = await t.say("lab list");
    expect(refused).toMatchObject({ kind: "refused", reason: "cap_rate" });
    expect(refused.text).toBe(
      "You have sent 3 commands in the last minute, the most labops takes from one person (LABOPS_MAX_COMMANDS_PER_MINUTE=3). Nothing was done; try again in 40 s.",
    );
    // Someone else, and an admin, are not held back.
    expect(await t.say("lab list", bob)).toMatchObject({ kind: "queued" });
    for (let i = 0; i < 5; i++) expect(await t.say("lab list", root)).toMatchObject({ kind: "queued" });
    await t.clock.advance(40_000);
    expect(await t.say("lab list")).toMatchObject({ kind: "queued" });
    expect(t.queue.jobs).toHaveLength(3 + 1 + 5 + 1);
  });

  it("counts lab grant and lab revoke like every command, though they are answered at intake", async () => {
    const t = setup({ maxCommandsPerMinute: 2 });
    await t.registry.create(labRecord("team-g", ada, here));
    expect(await t.say("lab grant team-g <@U-BOB>")).toMatchObject({ kind: "help" });
    expect(await t.say("lab revoke team-g <@U-BOB>")).toMatchObject({ kind: "help" });
    const third = await t.say("lab grant team-g <@U-BOB>");
    expect(third).toMatchObject({ kind: "refused", reason: "cap_rate" });
    expect((await t.registry.get("team-g"))?.members).toEqual([]);
  });

  it("counts a destroy's confirmation prompt, not answers given at intake", async () => {
    const t = setup({ maxCommandsPerMinute: 2 });
    await t.registry.create(labRecord("team-d", ada, here));
    expect(await t.say("help")).toMatchObject({ kind: "help" });
    expect(await t.say("lab status nope")).toMatchObject({ kind: "refused", reason: "no_lab" });
    expect(await t.say("lab destroy team-d")).toMatchObject({ kind: "confirm" });
    expect(await t.say("lab status team-d")).toMatchObject({ kind: "queued" });
    expect(await t.say("lab status team-d")).toMatchObject({ kind: "refused", reason: "cap_rate" });
  });
});

describe("caps at intake: asked ahead, counted as if asked last", () => {
  it("does not count a retried delivery, nor commands refused by a later check", async () => {
    const t = setup({ maxCommandsPerMinute: 2 });
    await t.registry.create(labRecord("team-o", bob, here));
    const again = t.raw("lab list", "d-same");
    expect(await again()).toMatchObject({ kind: "queued" });
    expect(await again()).toMatchObject({ kind: "duplicate" });
    expect(await t.say("lab destroy team-o --yes")).toMatchObject({ kind: "refused", reason: "not_owner" });
    expect(await t.say("secret rotate color red --lab nope")).toMatchObject({ kind: "refused" });
    expect(await t.say("lab list")).toMatchObject({ kind: "queued" });
    expect(await t.say("lab list")).toMatchObject({ kind: "refused", reason: "cap_rate" });
  });

  it("counts a create answered with the status of the lab that stands here once, and holds no name", async () => {
    const t = setup({ maxCommandsPerMinute: 2 });
    await t.registry.create(labRecord("team-r", ada, here));
    const asked = await t.say("lab create team-r");
    expect(asked).toMatchObject({ kind: "queued" });
    expect(t.queue.jobs[0]?.command).toEqual({ kind: "lab.status", lab: "team-r" });
    expect(await t.say("lab status team-r")).toMatchObject({ kind: "queued" });
    expect(await t.say("lab status team-r")).toMatchObject({ kind: "refused", reason: "cap_rate" });
    // Once destroyed, the name is free to another conversation at once: no hold was left behind.
    await t.registry.update("team-r", (r) => ({ ...r, state: "destroyed" }));
    expect(await t.say("lab create team-r", tess, elsewhere)).toMatchObject({ kind: "queued" });
  });
});

describe("caps at intake: a lab's whole lifetime", () => {
  it("refuses an extend once the lab's expiry is at its creation plus LABOPS_MAX_LAB_LIFETIME, saying when it ends", async () => {
    const t = setup();
    const now = t.clock.now();
    const created = now - 20 * 3_600_000;
    await t.registry.create({
      ...labRecord("old-lab", ada, here),
      createdAt: created,
      expiresAt: created + 24 * 3_600_000,
    });
    const refused = await t.say("lab extend old-lab --by 4h");
    expect(refused).toMatchObject({ kind: "refused", reason: "cap_lifetime" });
    expect(refused.text).toBe(
      "Lab `old-lab` cannot be extended: a lab lives at most 1d from its creation (LABOPS_MAX_LAB_LIFETIME), so it ends 2026-12-01 13:00 UTC. Nothing was queued. Save what you need before then, and create a new lab if you need one after.",
    );
    expect(t.queue.jobs).toHaveLength(0);
    // An admin is held by the lifetime too: it protects the subscription.
    expect(await t.say("lab extend old-lab", root)).toMatchObject({ reason: "cap_lifetime" });
  });

  it("queues an extend while some of the lifetime is left (the worker cuts it to what is left)", async () => {
    const t = setup();
    const created = t.clock.now() - 2 * 3_600_000;
    await t.registry.create({
      ...labRecord("young", ada, here),
      createdAt: created,
      expiresAt: created + 8 * 3_600_000,
    });
    expect(await t.say("lab extend young --by 2d")).toMatchObject({ kind: "queued" });
  });

  it("scales the lifetime like every lifetime", () => {
    expect(lifetimeEnd({ createdAt: 1_000 }, 24 * 3_600_000, 600)).toBe(1_000 + 144_000);
  });
});

describe("caps settings", () => {
  const unset = {
    LABOPS_MAX_LABS_PER_USER: undefined,
    LABOPS_MAX_LABS_PER_CONVERSATION: undefined,
    LABOPS_MAX_LABS: undefined,
    LABOPS_MAX_COMMANDS_PER_MINUTE: undefined,
    LABOPS_MAX_LAB_LIFETIME: undefined,
  };

  it("default to a workshop of 30 teams: 2 per person, 3 per conversation, 40 in all, 20 a minute, 24 h", () => {
    expect(loadConfig(testEnv(unset)).caps).toEqual(DEFAULTS);
  });

  it("name a bad value with what to write, and a default lifetime longer than a lab may live", () => {
    const error = (() => {
      try {
        loadConfig(
          testEnv({
            ...unset,
            LABOPS_MAX_LABS_PER_USER: "0",
            LABOPS_MAX_COMMANDS_PER_MINUTE: "many",
            LABOPS_MAX_LAB_LIFETIME: "4h",
          }),
        );
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error("loadConfig accepted bad caps");
    })();
    expect(error.problems).toEqual([
      { variable: "LABOPS_MAX_LABS_PER_USER", message: "is not valid: set a whole number from 1 to 1000" },
      {
        variable: "LABOPS_MAX_COMMANDS_PER_MINUTE",
        message: "is not valid: set a whole number from 1 to 100000",
      },
      {
        variable: "LABOPS_DEFAULT_TTL",
        message: "is longer than LABOPS_MAX_LAB_LIFETIME: shorten one or raise the other.",
      },
    ]);
  });
});

describe("labs named in a refusal", () => {
  it("names at most ten, then says how many more", () => {
    const many = Array.from({ length: 25 }, (_, i) => `lab-${i}`);
    expect(names(many)).toBe(
      `${many
        .slice(0, 10)
        .map((l) => `\`${l}\``)
        .join(", ")} and 15 more`,
    );
    expect(names(["a", "b"])).toBe("`a`, `b`");
  });
});
