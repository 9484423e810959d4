import { verbatim } from "../chat/markup.ts";
import { isLabName, isLabRef, labRef } from "../labs/names.ts";
import { labSecrets } from "../labs/naming.ts";
import type { ChatAddress, ChatUser } from "../ports/chat.ts";
import type { LabRecord } from "../ports/registry.ts";
import type { Command, CommandKind } from "./types.ts";

/**
 * Who may do what, decided at intake before any job exists. A lab belongs to
 * the conversation it was created in and to its creator; the commands that
 * change or remove it are for the owner, the members the owner granted
 * (`lab grant`; granting and revoking stay the owner's) or an admin (LABOPS_ADMINS), and only
 * in the lab's own conversation, so nobody acts on a lab from a channel whose
 * members would not see it happen.
 */
export const OWNER_OR_ADMIN: ReadonlySet<CommandKind> = new Set<CommandKind>([
  "lab.destroy",
  "secret.rotate",
  "secret.rollback",
  "lab.extend",
  "lab.grant",
  "lab.revoke",
]);

/**
 * Commands that read a lab: only in its own conversation, or by an admin, since
 * their cards show what only its members should see (pods, versions, the vault,
 * a portal link with tenant and subscription ids, its recent commands).
 */
export const CONVERSATION_ONLY: ReadonlySet<CommandKind> = new Set<CommandKind>([
  "lab.status",
  "secret.list",
]);

/** Commands that take `--lab` and fall back to the only lab of the conversation. */
const CHANNEL_LAB: ReadonlySet<CommandKind> = new Set<CommandKind>([
  "secret.rotate",
  "secret.rollback",
  "secret.list",
  "lab.status",
]);

export type Decision = { ok: true } | { ok: false; reason: string; text: string };

/** `slack:U0123` or `teams:<aad object id>`, as written in LABOPS_ADMINS. */
export function isAdmin(user: ChatUser, admins: readonly string[]): boolean {
  const id = user.platform === "teams" ? user.id.toLowerCase() : user.id;
  return admins.some((a) => {
    const [platform, ...rest] = a.split(":");
    const adminId = rest.join(":");
    return platform === user.platform && (user.platform === "teams" ? adminId.toLowerCase() : adminId) === id;
  });
}

export function sameUser(a: ChatUser, b: ChatUser): boolean {
  return (
    a.platform === b.platform &&
    (a.platform === "teams" ? a.id.toLowerCase() === b.id.toLowerCase() : a.id === b.id)
  );
}

/** Whether `user` was granted the owner's rights on the lab (`lab grant NAME @user`). */
export function isMember(record: LabRecord, user: ChatUser): boolean {
  return (record.members ?? []).some((m) => sameUser(m, user));
}

export function sameConversation(a: ChatAddress, b: ChatAddress): boolean {
  return a.platform === b.platform && a.tenant === b.tenant && a.channel === b.channel;
}

/**
 * How to name a user in a message: a Slack mention renders as their name
 * (only for an id of Slack's shape; anything else is shown as text); Teams
 * shows the name it sent, as text.
 */
export function mention(user: ChatUser): string {
  if (user.platform === "slack" && /^[A-Za-z0-9_-]{1,40}$/.test(user.id)) return `<@${user.id}>`;
  return verbatim(user.name ?? user.id);
}

/** The lab a command is about, when it names one or the conversation has exactly one. */
export function commandLab(command: Command): string | undefined {
  return "lab" in command ? command.lab : undefined;
}

function withLab(command: Command, lab: string): Command {
  return "lab" in command ? ({ ...command, lab } as Command) : command;
}

/**
 * Fills in `--lab` from the conversation when it was left out. The secret
 * commands need a lab: none or several is a refusal that lists them.
 * `lab status` without a name is left alone when it is not exactly one lab.
 */
export function resolveConversationLab(
  command: Command,
  address: ChatAddress,
  labs: readonly LabRecord[],
): { ok: true; command: Command } | { ok: false; reason: string; text: string } {
  if (!CHANNEL_LAB.has(command.kind) || commandLab(command) !== undefined) return { ok: true, command };
  const here = labs.filter((l) => l.state !== "destroyed" && sameConversation(l.address, address));
  const only = here[0];
  if (here.length === 1 && only) return { ok: true, command: withLab(command, only.name) };
  if (command.kind === "lab.status" && here.length === 0) {
    return {
      ok: false,
      reason: "no_lab_here",
      text: "This conversation has no lab. Create one with `lab create NAME`, or say `lab list` to see the labs.",
    };
  }
  if (command.kind === "lab.status") return { ok: true, command };
  const example =
    command.kind === "secret.list"
      ? "secret list --lab team-a"
      : `${command.kind.replace(".", " ")} NAME --lab team-a`;
  if (here.length === 0) {
    return {
      ok: false,
      reason: "no_lab_here",
      text: `This conversation has no lab. Create one with \`lab create NAME\`, or name a lab with \`--lab\`, e.g. \`${example}\`.`,
    };
  }
  return {
    ok: false,
    reason: "several_labs_here",
    text: `This conversation has ${here.length} labs (${here.map((l) => `\`${verbatim(l.name)}\``).join(", ")}): say which with \`--lab\`, e.g. \`${example}\`.`,
  };
}

/** Whether `user`, speaking in `address`, may run `command` on the lab `record` (undefined: no such lab). */
export function authorize(
  command: Command,
  user: ChatUser,
  address: ChatAddress,
  record: LabRecord | undefined,
  admins: readonly string[],
): Decision {
  const admin = isAdmin(user, admins);
  const lab = commandLab(command);
  const live = record && record.state !== "destroyed" ? record : undefined;

  if (command.kind === "lab.create") {
    if (!live) return { ok: true };
    if (!sameConversation(live.address, address)) {
      return {
        ok: false,
        reason: "name_taken",
        text: `The name \`${verbatim(live.name)}\` is taken by a lab in another conversation. Pick another name, e.g. \`lab create ${verbatim(live.name)}-2\`.`,
      };
    }
    if (live.state !== "failed") {
      return {
        ok: false,
        reason: "lab_exists",
        text: `Lab \`${verbatim(live.name)}\` already exists (${live.state}, owner ${mention(live.owner)}). Say \`lab status ${verbatim(live.name)}\` for details.`,
      };
    }
    // Creating a failed lab again resumes it: that changes it, so it is the owner's call.
    if (!admin && !sameUser(live.owner, user)) {
      return {
        ok: false,
        reason: "not_owner",
        text: `Only ${mention(live.owner)}, who created \`${verbatim(live.name)}\`, or an admin can retry it.`,
      };
    }
    return { ok: true };
  }

  if (lab === undefined) return { ok: true };
  if (!live) {
    // An admin may destroy what is left of a lab whose record is gone (its resource group, its vault).
    if (command.kind === "lab.destroy" && admin) return { ok: true };
    // Nothing to act on: answered now rather than by a job (intake adds the labs of the conversation).
    return {
      ok: false,
      reason: "no_lab",
      text: `There is no lab \`${verbatim(lab)}\`. Say \`lab list\` to see the labs.`,
    };
  }
  if (CONVERSATION_ONLY.has(command.kind)) {
    if (admin || sameConversation(live.address, address)) return { ok: true };
    return {
      ok: false,
      reason: "wrong_conversation",
      text: `Lab \`${verbatim(live.name)}\` belongs to another conversation; ask there or an admin.`,
    };
  }
  if (!OWNER_OR_ADMIN.has(command.kind)) return { ok: true };
  const verb = command.kind.split(".")[1] ?? command.kind;
  // A press on a button of a card that went stale (Extend while the lab is being destroyed).
  if (live.state === "destroying" && command.kind !== "lab.destroy") {
    return {
      ok: false,
      reason: "lab_destroying",
      text: `Lab \`${verbatim(live.name)}\` is being destroyed: there is nothing to ${verb} any more. Its thread shows the destroy.`,
    };
  }
  // A lab kept under a name the parser refuses is an admin's to remove from wherever they are.
  const cleanup = admin && command.kind === "lab.destroy" && !isLabName(live.name);
  if (!sameConversation(live.address, address) && !cleanup) {
    return {
      ok: false,
      reason: "wrong_conversation",
      text: `Lab \`${verbatim(live.name)}\` belongs to another conversation: ${verb} it there, where its owner ${mention(live.owner)} and its thread are.`,
    };
  }
  const manages = command.kind === "lab.grant" || command.kind === "lab.revoke";
  if (!admin && !sameUser(live.owner, user) && (manages || !isMember(live, user))) {
    if (manages) {
      return {
        ok: false,
        reason: "not_owner",
        text: `Only ${mention(live.owner)}, who created \`${verbatim(live.name)}\`, or an admin can ${verb} access to it.`,
      };
    }
    const what = command.kind.startsWith("secret.") ? `${verb} its secrets` : `${verb} it`;
    return {
      ok: false,
      reason: "not_owner",
      text: `Only ${mention(live.owner)}, who created \`${verbatim(live.name)}\`, a member they granted, or an admin can ${what}. Ask them to grant you access, or ask an admin listed in LABOPS_ADMINS.`,
    };
  }
  return { ok: true };
}

/**
 * `lab destroy #1a2b3c4d`: the lab whose reference (labRef) that is, for an
 * admin only, so a lab stored under a name the parser refuses can be removed.
 */
export function resolveLabRef(
  command: Command,
  user: ChatUser,
  admins: readonly string[],
  labs: readonly LabRecord[],
): { ok: true; command: Command } | { ok: false; reason: string; text: string } {
  if (command.kind !== "lab.destroy" || !isLabRef(command.lab)) return { ok: true, command };
  if (!isAdmin(user, admins)) {
    return {
      ok: false,
      reason: "not_admin",
      text: "Only an admin (LABOPS_ADMINS) can destroy a lab by its reference; name the lab instead, e.g. `lab destroy team-a`.",
    };
  }
  const record = labs.find((l) => l.state !== "destroyed" && labRef(l.name) === command.lab);
  if (!record) {
    return {
      ok: false,
      reason: "no_lab",
      text: `No lab has the reference \`${command.lab}\`. Say \`lab list\` to see the labs and the references of those with names that are not valid.`,
    };
  }
  return { ok: true, command: { ...command, lab: record.name } };
}

/**
 * A secret value typed in a message the conversation sees is refused, never
 * written: the answer points to the private form and says the value is exposed.
 */
export function valueInPublic(command: Command): Decision {
  if (command.kind !== "secret.rotate" || command.value === undefined) return { ok: true };
  const lab = command.lab === undefined ? "" : ` --lab ${verbatim(command.lab)}`;
  // Written as the bare command: the answer shows it as the platform types it (src/chat/hints.ts).
  const form = `say \`secret rotate ${verbatim(command.secret)}${lab}\` without the value`;
  return {
    ok: false,
    reason: "value_in_public",
    text: `That value was typed where everyone here can read it, so it was not used. To type it privately, ${form}: a form opens. Treat the value you typed as seen and pick a new one.`,
  };
}

/**
 * A secret the lab does not have, refused before anything is queued (a typo
 * would otherwise add a secret and report success), unless `secret rotate`
 * was given `--new`. The answer names the secrets it has.
 */
export function unknownSecret(command: Command, record: LabRecord | undefined): Decision {
  if (!record || (command.kind !== "secret.rotate" && command.kind !== "secret.rollback"))
    return { ok: true };
  const names = labSecrets(record);
  const wanted = command.secret.toLowerCase();
  if (names.some((n) => n.toLowerCase() === wanted)) return { ok: true };
  if (command.kind === "secret.rotate" && command.create) return { ok: true };
  const has = names.map((n) => `\`${verbatim(n)}\``).join(", ");
  const lab = verbatim(record.name);
  const add =
    command.kind === "secret.rotate"
      ? ` To add a new secret, say \`secret rotate ${verbatim(command.secret)} --new --lab ${lab}\`.`
      : "";
  return {
    ok: false,
    reason: "no_secret",
    text: `Lab \`${lab}\` has no secret \`${verbatim(command.secret)}\`; its secrets are ${has}.${add}`,
  };
}

/** The answer to a command about a lab that does not exist: the labs of this conversation, or how to make one. */
export function noLabText(lab: string, address: ChatAddress, labs: readonly LabRecord[]): string {
  const here = labs.filter((l) => l.state !== "destroyed" && sameConversation(l.address, address));
  if (here.length === 0) {
    return `There is no lab \`${verbatim(lab)}\`, and this conversation has none: create one with \`lab create NAME\`, or say \`lab list\` to see every lab.`;
  }
  return `There is no lab \`${verbatim(lab)}\`; labs here: ${here.map((l) => `\`${verbatim(l.name)}\``).join(", ")}.`;
}
