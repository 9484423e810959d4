import { isLabName, isSecretName } from "../labs/names.ts";
import { newCorrelationId } from "../log.ts";
import type { CommandOrigin } from "../ports/queue.ts";
import { SecretValue } from "../secret-value.ts";
import { isConfirmationId } from "./confirmation.ts";
import { isFormLinkTag, rotateFormLink } from "./form-link.ts";
import type { Incoming, IntakeOutcome } from "./intake.ts";
import { MAX_SECRET_VALUE_BYTES } from "./parse.ts";
import type { Command } from "./types.ts";

/**
 * A chat action (a button press, a card or form submitted) as a command for
 * intake, the same for every platform: an adapter hands over the action's id
 * and what the client sent with it, and renders what comes back. What the
 * client sent is untrusted (a Slack payload can be forged by whoever holds the
 * signing secret; a Teams Action.Execute `data` is whatever the client puts
 * there), so its shape and types are checked here, every name is held to its
 * pattern (src/labs/names.ts) before it reaches a command, and the correlation
 * id is always made here, never read from the client.
 */

/** The action ids labops puts on its cards and forms (Slack `action_id`, Teams `verb`). */
export const ACTION = {
  confirm: "destroy.confirm",
  cancel: "destroy.cancel",
  retry: "lab.retry",
  extend: "lab.extend",
  /** A card button asking for a secret's new value: the private form opens. */
  rotateOpen: "secret.rotate.open",
  /** That form sent back with the value (Slack: the modal's submit; Teams: the card's Rotate). */
  rotateSubmit: "secret.rotate.submit",
} as const;

export type ActionId = (typeof ACTION)[keyof typeof ACTION];

/** The buttons (every action but the form's submit). */
export const BUTTON_ACTIONS = [
  ACTION.confirm,
  ACTION.cancel,
  ACTION.retry,
  ACTION.extend,
  ACTION.rotateOpen,
] as const;

/** Slack caps a button's value at 2,000 characters; nothing labops puts on a button is longer. */
export const MAX_BUTTON_VALUE_CHARS = 2_000;

export type ChatAction =
  /** Confirm or Cancel on a confirmation prompt. */
  | { kind: "answer"; answer: { confirmationId: string; confirm: boolean } }
  /** A command, checked by intake like a typed one; `form` when it came from a form the user filled in. */
  | { kind: "command"; command: Command; form: boolean };

export type ActionRefusalReason =
  | "unknown_action"
  | "malformed"
  | "invalid_lab"
  | "invalid_secret"
  | "value_missing"
  | "value_too_large";

export type ActionRefusal = { ok: false; reason: ActionRefusalReason; text: string };

export type ActionResult = { ok: true; action: ChatAction; incoming: Incoming } | ActionRefusal;

export interface ActionInput {
  /** The action id as the client sent it. */
  verb: unknown;
  /**
   * What the client sent with it, as one object: `value` is a button's value
   * (or, on the rotate form, the typed value); the rotate form adds `secret`,
   * `lab`, `create` and `sig`, the tag that authenticates them. Anything else
   * in it (a `correlationId`) is ignored.
   */
  data: unknown;
  /** Made by the adapter from the platform's delivery (Slack trigger_id, Teams activity id). */
  deliveryId: string;
  /** `formLinkKey(LABOPS_SECRET_KEY)`: a submitted form's `sig` must be its tag (src/commands/form-link.ts). */
  formKey: Buffer;
  origin: CommandOrigin;
  receivedAt: number;
}

const MALFORMED =
  "That request was malformed (it is not what labops sent); nothing was done. Run the command again.";

/** Reads an action and makes the Incoming that intake decides on, or says why it cannot. */
export function actionToIncoming(input: ActionInput): ActionResult {
  const read = readAction(input.verb, input.data);
  if (!read.ok) return read;
  const { command } = read.action.kind === "command" ? read.action : { command: undefined };
  if (input.verb === ACTION.rotateSubmit && command?.kind === "secret.rotate") {
    // The form links back to what it was opened for, where and for whom: a tag that does not match is a forgery.
    const sig = isRecord(input.data) ? input.data.sig : undefined;
    if (!isFormLinkTag(sig, rotateFormLink(input.origin, command), input.formKey))
      return refuse("malformed", MALFORMED);
  }
  const base = {
    deliveryId: input.deliveryId,
    // Made on the server: an id from the client could forge an audit trail or carry markup to a card.
    correlationId: newCorrelationId(),
    origin: input.origin,
    receivedAt: input.receivedAt,
  };
  const { action } = read;
  const incoming: Incoming =
    action.kind === "answer"
      ? { ...base, answer: action.answer }
      : { ...base, parsed: { ok: true, command: action.command } };
  return { ok: true, action, incoming };
}

/** The action an id and its data stand for, every field checked; no Incoming yet. */
export function readAction(verb: unknown, data: unknown): { ok: true; action: ChatAction } | ActionRefusal {
  if (typeof verb !== "string" || !isActionId(verb)) {
    return refuse("unknown_action", "That button is not one labops knows; run the command again.");
  }
  if (!isRecord(data)) return refuse("malformed", MALFORMED);
  if (verb === ACTION.rotateSubmit) return readRotateForm(data);

  const value = data.value;
  if (typeof value !== "string" || value.length > MAX_BUTTON_VALUE_CHARS)
    return refuse("malformed", MALFORMED);
  switch (verb) {
    case ACTION.confirm:
    case ACTION.cancel:
      if (!isConfirmationId(value)) return refuse("malformed", MALFORMED);
      return {
        ok: true,
        action: { kind: "answer", answer: { confirmationId: value, confirm: verb === ACTION.confirm } },
      };
    case ACTION.retry:
    case ACTION.extend: {
      if (!isLabName(value)) return invalidLab("That button");
      const command: Command =
        verb === ACTION.retry
          ? { kind: "lab.create", lab: value, ttlMs: undefined }
          : { kind: "lab.extend", lab: value, byMs: undefined };
      return { ok: true, action: { kind: "command", command, form: false } };
    }
    case ACTION.rotateOpen: {
      // `SECRET` or `SECRET|LAB`, as the lab's card put it.
      const parts = value.split("|");
      const [secret = "", lab] = parts;
      if (parts.length > 2 || !isSecretName(secret)) return invalidSecret("That button");
      if (lab !== undefined && !isLabName(lab)) return invalidLab("That button");
      return {
        ok: true,
        action: {
          kind: "command",
          command: { kind: "secret.rotate", secret, value: undefined, lab },
          form: false,
        },
      };
    }
  }
}

/** The rotate form: the secret and lab it was opened for, and the value typed into it. */
function readRotateForm(data: Record<string, unknown>): { ok: true; action: ChatAction } | ActionRefusal {
  const { secret, lab, create, value } = data;
  if (typeof secret !== "string" || !isSecretName(secret)) return invalidSecret("This form");
  if (lab !== undefined && (typeof lab !== "string" || !isLabName(lab))) return invalidLab("This form");
  if (create !== undefined && create !== true) return refuse("malformed", MALFORMED);
  // The typed value is wrapped at once, and never echoed, logged or kept in clear.
  if (value === undefined || value === null || value === "")
    return refuse("value_missing", "Type the new value.");
  if (typeof value !== "string") return refuse("malformed", MALFORMED);
  if (Buffer.byteLength(value, "utf8") > MAX_SECRET_VALUE_BYTES) {
    return refuse("value_too_large", "Key Vault takes at most 25 KB.");
  }
  return {
    ok: true,
    action: {
      kind: "command",
      command: {
        kind: "secret.rotate",
        secret,
        value: new SecretValue(value),
        lab,
        ...(create === true ? { create: true } : {}),
      },
      form: true,
    },
  };
}

/**
 * Whether the card or form an action was taken on is spent by its outcome,
 * so the adapter replaces it and it cannot be pressed again: a confirmation
 * prompt once answered (or dead), the rotate form once its value is taken or
 * refused. A press by someone else leaves the prompt to its owner; an outcome
 * that changed nothing (unavailable, a duplicate) leaves it to be pressed
 * again. Buttons that stand for a command leave their card as it is.
 */
export function spendsCard(action: ChatAction, outcome: IntakeOutcome): boolean {
  if (action.kind === "command" && !action.form) return false;
  if (outcome.kind === "queued" || outcome.kind === "cancelled") return true;
  return outcome.kind === "refused" && outcome.reason !== "confirmation_other_user";
}

function isActionId(verb: string): verb is ActionId {
  return (Object.values(ACTION) as string[]).includes(verb);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function refuse(reason: ActionRefusalReason, text: string): ActionRefusal {
  return { ok: false, reason, text };
}

// Never the name itself: it came from the client and may be anything (a link, 700 KB).
function invalidLab(what: string): ActionRefusal {
  return refuse("invalid_lab", `${what} names no valid lab; nothing was done. Run the command again.`);
}

function invalidSecret(what: string): ActionRefusal {
  return refuse("invalid_secret", `${what} names no valid secret; nothing was done. Run the command again.`);
}
