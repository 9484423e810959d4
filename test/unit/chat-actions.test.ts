import { describe, expect, it } from "vitest";
import {
  ACTION,
  type ActionInput,
  type ActionResult,
  actionToIncoming,
  BUTTON_ACTIONS,
  type ChatAction,
  MAX_BUTTON_VALUE_CHARS,
  spendsCard,
} from "../../src/commands/actions.ts";
import { newConfirmationId } from "../../src/commands/confirmation.ts";
import { formLinkTag, rotateFormLink } from "../../src/commands/form-link.ts";
import type { IntakeOutcome } from "../../src/commands/intake.ts";
import type { Command } from "../../src/commands/types.ts";
import { formLinkKey } from "../../src/crypto.ts";
import type { CommandOrigin } from "../../src/ports/queue.ts";

const origin: CommandOrigin = {
  address: { platform: "teams", tenant: "t1", channel: "19:c@thread.tacv2" },
  user: { platform: "teams", id: "aad-ada", name: "Ada" },
};

const formKey = formLinkKey(Buffer.alloc(32, 7));

/** A rotate form's data as labops opened it: tagged for its secret, lab, conversation and user. */
function tagged(data: unknown): unknown {
  if (typeof data !== "object" || data === null || "sig" in data) return data;
  const { secret, lab, create } = data as Record<string, unknown>;
  if (typeof secret !== "string" || (lab !== undefined && typeof lab !== "string")) return data;
  const link = rotateFormLink(origin, { secret, lab, create: create === true });
  return { ...data, sig: formLinkTag(link, formKey) };
}

const act = (verb: unknown, data: unknown, extra: Partial<ActionInput> = {}): ActionResult =>
  actionToIncoming({
    verb,
    data: verb === ACTION.rotateSubmit ? tagged(data) : data,
    deliveryId: "teams.c.1",
    origin,
    receivedAt: 1_000,
    formKey,
    ...extra,
  });

function commandOf(result: ActionResult): Command {
  if (!result.ok) throw new Error(`refused: ${result.reason}`);
  const { incoming } = result;
  if (!("parsed" in incoming) || !incoming.parsed.ok) throw new Error("not a command");
  return incoming.parsed.command;
}

const refusal = (result: ActionResult) => (result.ok ? undefined : result.reason);

describe("a chat action as a command for intake", () => {
  it("turns Confirm and Cancel into an answer of the confirmation they name", () => {
    const id = newConfirmationId();
    for (const [verb, confirm] of [
      [ACTION.confirm, true],
      [ACTION.cancel, false],
    ] as const) {
      const result = act(verb, { value: id });
      expect(result).toMatchObject({
        ok: true,
        action: { kind: "answer", answer: { confirmationId: id, confirm } },
        incoming: {
          deliveryId: "teams.c.1",
          origin,
          receivedAt: 1_000,
          answer: { confirmationId: id, confirm },
        },
      });
    }
  });

  it("turns Retry, Extend and Rotate into the commands they stand for, names checked", () => {
    expect(commandOf(act(ACTION.retry, { value: "team-a" }))).toEqual({
      kind: "lab.create",
      lab: "team-a",
      ttlMs: undefined,
    });
    expect(commandOf(act(ACTION.extend, { value: "team-a" }))).toEqual({
      kind: "lab.extend",
      lab: "team-a",
      byMs: undefined,
    });
    expect(commandOf(act(ACTION.rotateOpen, { value: "color|team-a" }))).toEqual({
      kind: "secret.rotate",
      secret: "color",
      value: undefined,
      lab: "team-a",
    });
    expect(commandOf(act(ACTION.rotateOpen, { value: "color" }))).toMatchObject({
      secret: "color",
      lab: undefined,
    });
  });

  it("wraps the value typed into the rotate form at once, and never echoes it", () => {
    const result = act(ACTION.rotateSubmit, { secret: "color", lab: "team-a", value: "orange-7f3a" });
    const command = commandOf(result);
    expect(command.kind === "secret.rotate" && command.value?.reveal()).toBe("orange-7f3a");
    expect(JSON.stringify(result)).not.toContain("orange-7f3a");
    expect(commandOf(act(ACTION.rotateSubmit, { secret: "color", value: "x" }))).toMatchObject({
      lab: undefined,
    });

    for (const [value, reason] of [
      [undefined, "value_missing"],
      [null, "value_missing"],
      ["", "value_missing"],
      [42, "malformed"],
      [["orange"], "malformed"],
      ["é".repeat(13_000), "value_too_large"],
    ] as const) {
      const refused = act(ACTION.rotateSubmit, { secret: "color", value });
      expect(refusal(refused), String(value).slice(0, 20)).toBe(reason);
      if (typeof value === "string" && value !== "") expect(JSON.stringify(refused)).not.toContain(value);
    }
  });

  it("refuses a rotate form whose tag is not the one labops opened it with (issue 14, finding 5)", () => {
    const good = tagged({ secret: "color", lab: "team-a", value: "v" }) as Record<string, unknown>;
    expect(refusal(act(ACTION.rotateSubmit, good))).toBeUndefined();
    const forged = [
      { ...good, sig: undefined },
      { ...good, sig: 42 },
      { ...good, sig: "x".repeat(43) },
      // The tag of one form on another secret, lab, or with --new added.
      { ...good, secret: "db-connection-string" },
      { ...good, lab: "team-b" },
      { ...good, create: true },
    ];
    for (const data of forged) expect(refusal(act(ACTION.rotateSubmit, data))).toBe("malformed");
    // The same form submitted by someone else, or from another conversation.
    const bob = { ...origin, user: { platform: "teams" as const, id: "aad-bob" } };
    expect(refusal(act(ACTION.rotateSubmit, good, { origin: bob }))).toBe("malformed");
    const elsewhere = { ...origin, address: { ...origin.address, channel: "19:other@thread.tacv2" } };
    expect(refusal(act(ACTION.rotateSubmit, good, { origin: elsewhere }))).toBe("malformed");
    // Under another LABOPS_SECRET_KEY.
    expect(refusal(act(ACTION.rotateSubmit, good, { formKey: formLinkKey(Buffer.alloc(32, 8)) }))).toBe(
      "malformed",
    );
  });

  it("makes the correlation id on the server, whatever the client sent", () => {
    const sent = "c-[click](https://evil.example)";
    const ids = [
      act(ACTION.retry, { value: "team-a", correlationId: sent }),
      act(ACTION.rotateSubmit, { secret: "color", value: "v", correlationId: sent }),
      act(ACTION.confirm, { value: newConfirmationId(), correlationId: sent }),
      // Even from a caller that passes one along with the rest.
      act(ACTION.extend, { value: "team-a" }, { correlationId: sent } as Partial<ActionInput>),
    ].map((r) => (r.ok ? r.incoming.correlationId : "refused"));
    for (const id of ids) expect(id).toMatch(/^c-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each([
    ["an unknown verb", "lab.destroy.now", { value: "team-a" }, "unknown_action"],
    ["a verb that is not a string", 7, { value: "team-a" }, "unknown_action"],
    ["no verb", undefined, { value: "team-a" }, "unknown_action"],
    ["no data", ACTION.retry, undefined, "malformed"],
    ["data that is a string", ACTION.retry, "team-a", "malformed"],
    ["data that is a list", ACTION.retry, ["team-a"], "malformed"],
    ["data that is null", ACTION.retry, null, "malformed"],
    ["no value", ACTION.retry, {}, "malformed"],
    ["a value that is a number", ACTION.retry, { value: 42 }, "malformed"],
    ["a value that is an object", ACTION.extend, { value: { toString: "x" } }, "malformed"],
    [
      "a value longer than a button holds",
      ACTION.retry,
      { value: "a".repeat(MAX_BUTTON_VALUE_CHARS + 1) },
      "malformed",
    ],
    ["a 700 KB value", ACTION.retry, { value: "a".repeat(700_000) }, "malformed"],
    ["a lab name in capitals", ACTION.retry, { value: "Zz-UPPER" }, "invalid_lab"],
    ["a one-letter lab name", ACTION.retry, { value: "x" }, "invalid_lab"],
    ["an empty lab name", ACTION.extend, { value: "" }, "invalid_lab"],
    ["a path", ACTION.retry, { value: "../etc" }, "invalid_lab"],
    ["300 letters", ACTION.retry, { value: "a".repeat(300) }, "invalid_lab"],
    ["a markdown link", ACTION.extend, { value: "[x](https://evil.example)" }, "invalid_lab"],
    ["a mention", ACTION.retry, { value: "<!channel>" }, "invalid_lab"],
    ["a confirmation id of the wrong shape", ACTION.confirm, { value: "cf-short" }, "malformed"],
    ["an empty confirmation id", ACTION.cancel, { value: "" }, "malformed"],
    ["a secret name with a path", ACTION.rotateOpen, { value: "../../keys/x|team-a" }, "invalid_secret"],
    ["a secret and a bad lab", ACTION.rotateOpen, { value: "color|Team A" }, "invalid_lab"],
    ["three parts", ACTION.rotateOpen, { value: "color|team-a|more" }, "invalid_secret"],
    ["a form with no secret", ACTION.rotateSubmit, { value: "v" }, "invalid_secret"],
    ["a form with a numeric secret", ACTION.rotateSubmit, { secret: 42, value: "v" }, "invalid_secret"],
    [
      "a form whose secret is a path",
      ACTION.rotateSubmit,
      { secret: "../../keys/x", value: "v" },
      "invalid_secret",
    ],
    [
      "a form whose lab is a number",
      ACTION.rotateSubmit,
      { secret: "color", lab: 1, value: "v" },
      "invalid_lab",
    ],
    [
      "a form whose lab is null",
      ACTION.rotateSubmit,
      { secret: "color", lab: null, value: "v" },
      "invalid_lab",
    ],
  ])("refuses %s with a message that repeats none of it", (_what, verb, data, reason) => {
    const result = act(verb, data);
    expect(refusal(result)).toBe(reason);
    if (result.ok) return;
    expect(result.text.length).toBeLessThan(200);
    expect(result.text).toMatch(/run the command again|Type the new value|25 KB/i);
    const sent = JSON.stringify(data ?? "");
    for (const part of ["evil.example", "<!channel>", "../", "Zz-UPPER", "aaaaaaaaaa"]) {
      if (sent.includes(part)) expect(result.text).not.toContain(part);
    }
  });

  it("says a malformed request is malformed, not that the store is unreachable", () => {
    const result = act(ACTION.retry, { value: 42 });
    expect(result.ok ? "" : result.text).toMatch(/malformed/);
    expect(result.ok ? "" : result.text).not.toMatch(/unreachable/);
  });

  it("knows every button labops puts on a card", () => {
    for (const verb of BUTTON_ACTIONS) expect(refusal(act(verb, { value: 1 }))).toBe("malformed");
  });
});

describe("whether the card an action was taken on is spent", () => {
  const answer: ChatAction = { kind: "answer", answer: { confirmationId: "cf-x", confirm: true } };
  const form: ChatAction = {
    kind: "command",
    command: { kind: "secret.rotate", secret: "color", value: undefined, lab: undefined },
    form: true,
  };
  const button: ChatAction = {
    kind: "command",
    command: { kind: "lab.create", lab: "team-a", ttlMs: undefined },
    form: false,
  };
  const outcomes: Record<string, IntakeOutcome> = {
    queued: { kind: "queued", text: "Queued", jobId: "j" },
    cancelled: { kind: "cancelled", text: "Cancelled" },
    expired: { kind: "refused", text: "expired", reason: "confirmation_expired" },
    otherUser: { kind: "refused", text: "not yours", reason: "confirmation_other_user" },
    duplicate: { kind: "duplicate", text: "again" },
    unavailable: { kind: "unavailable", text: "down" },
  };

  it.each([
    ["queued", true],
    ["cancelled", true],
    ["expired", true],
    ["otherUser", false],
    ["duplicate", false],
    ["unavailable", false],
  ])("a confirmation prompt answered %s: %s", (outcome, spent) => {
    expect(spendsCard(answer, outcomes[outcome] as IntakeOutcome)).toBe(spent);
    expect(spendsCard(form, outcomes[outcome] as IntakeOutcome)).toBe(spent);
  });

  it("never a card whose button stands for a command", () => {
    for (const outcome of Object.values(outcomes)) expect(spendsCard(button, outcome)).toBe(false);
  });
});
