import { describe, expect, it } from "vitest";
import { queuedText } from "../../src/commands/answer-text.ts";
import { helpText } from "../../src/commands/help.ts";
import { type IntakeDeps, intake } from "../../src/commands/intake.ts";
import { parseCommandText, USAGE } from "../../src/commands/parse.ts";
import type { Command } from "../../src/commands/types.ts";
import { createLogger } from "../../src/log.ts";
import type { ChatAddress, ChatUser } from "../../src/ports/chat.ts";
import { MemoryAuditLog } from "../fakes/audit.ts";
import { ManualClock } from "../fakes/clock.ts";
import { MemoryConfirmationStore } from "../fakes/confirmations.ts";
import { MemoryDeliveryLog } from "../fakes/deliveries.ts";
import { MemoryQueue } from "../fakes/queue.ts";
import { MemoryLabRegistry } from "../fakes/registry.ts";
import { labRecord } from "../helpers/lab-record.ts";

/** Issue 17, item 7: help lists everything, hints as typed on each platform, acks that fit the command. */

describe("help", () => {
  it("lists every command whichever help was asked for, as typed in Slack", () => {
    for (const topic of ["lab", "secret", undefined]) {
      const text = helpText(topic, "slack");
      for (const [kind, usage] of Object.entries(USAGE)) {
        if (kind !== "help") expect(text, `${kind} in ${topic} help`).toContain(`\`/${usage}\``);
      }
    }
    expect(helpText("secret", "slack").indexOf("*Secrets*")).toBeLessThan(
      helpText("secret", "slack").indexOf("*Labs*"),
    );
  });

  it("gives the @mention form in Teams", () => {
    const text = helpText(undefined, "teams");
    expect(text).toContain("`@labops lab create NAME [--on HOST] [--ttl 8h]`");
    expect(text).toContain("`@labops secret rotate NAME [VALUE] [--lab NAME] [--new]`");
    expect(text).not.toContain("`/lab");
  });
});

describe("quick answers", () => {
  const fact = (command: Command) =>
    queuedText({ command, description: "x", correlationId: "c-1" }).replace(/^Queued `x` \(ref c-1\)\. /, "");

  it("say 'Progress will appear in a thread' only for the commands that run in one", () => {
    const inThread: Command[] = [
      { kind: "lab.create", lab: "a", ttlMs: undefined },
      { kind: "lab.destroy", lab: "a", confirmed: true },
      { kind: "secret.rotate", secret: "color", value: undefined, lab: "a" },
    ];
    for (const c of inThread) expect(fact(c)).toBe("Progress will appear in a thread in this channel.");
    expect(fact({ kind: "lab.list" })).toBe("The answer will be posted in this channel in a moment.");
    expect(fact({ kind: "lab.status", lab: "a" })).toBe(
      "The answer will be posted in this channel in a moment.",
    );
    expect(fact({ kind: "lab.extend", lab: "a", byMs: undefined })).toBe(
      "The new expiry will be said in the lab's thread.",
    );
  });
});

describe("through intake", () => {
  const slack: ChatAddress = { platform: "slack", tenant: "T1", channel: "C1" };
  const teams: ChatAddress = { platform: "teams", tenant: "tid", channel: "19:x@thread.tacv2" };
  const ada = (platform: "slack" | "teams"): ChatUser => ({ platform, id: "U-ADA", name: "ada" });

  function setup() {
    const clock = new ManualClock();
    const registry = new MemoryLabRegistry();
    const queue = new MemoryQueue();
    const deps: IntakeDeps = {
      queue,
      registry,
      confirmations: new MemoryConfirmationStore(clock),
      audit: new MemoryAuditLog(),
      deliveries: new MemoryDeliveryLog(clock),
      admins: [],
      logger: createLogger({ level: "silent" }),
      clock,
    };
    let seq = 0;
    const say = (text: string, address = slack) => {
      seq += 1;
      return intake(
        {
          deliveryId: `d${seq}`,
          correlationId: `c-${seq}`,
          origin: { address, user: ada(address.platform) },
          receivedAt: clock.now(),
          parsed: parseCommandText(text),
        },
        deps,
      );
    };
    return { registry, queue, say };
  }

  it("says a create of a ready lab is answered with its status", async () => {
    const t = setup();
    await t.registry.create(labRecord("team-a", ada("slack"), slack));
    const outcome = await t.say("lab create team-a");
    expect(outcome.kind).toBe("queued");
    expect(outcome.text).toMatch(/^`team-a` is already ready; here is its status \(ref c-1\)\./);
    expect(t.queue.jobs.map((j) => j.command.kind)).toEqual(["lab.status"]);
  });

  it("suggests commands with the slash in Slack and the @mention in Teams", async () => {
    const t = setup();
    expect((await t.say("frob")).text).toMatch(/or say `\/lab help`\.$/);
    expect((await t.say("frob", teams)).text).toMatch(/or say `@labops help`\.$/);
    expect((await t.say("lab status")).text).toMatch(
      /Create one with `\/lab create NAME`, or say `\/lab list`/,
    );
    // An echo of what was asked is left as it was typed.
    expect((await t.say("lab list")).text).toMatch(
      /^Queued `lab list` \(ref c-4\)\. The answer will be posted/,
    );
  });
});

describe("suggested host and workshop commands", () => {
  it("are written as each platform types them, like lab and secret ones", async () => {
    const { suggestionsFor } = await import("../../src/chat/hints.ts");
    expect(suggestionsFor("Say `workshop status ws` to see it.", "slack")).toBe(
      "Say `/workshop status ws` to see it.",
    );
    expect(suggestionsFor("Try `host destroy h1 --force`.", "teams")).toBe(
      "Try `@labops host destroy h1 --force`.",
    );
  });
});
