import { verbatim } from "../chat/markup.ts";
import type { Clock } from "../clock.ts";
import type { ChatUser, Platform } from "../ports/chat.ts";
import type { LabRecord, LabRegistry } from "../ports/registry.ts";
import { mention, sameUser } from "./authorize.ts";
import type { Command, ParseResult } from "./types.ts";

/**
 * Members of a lab (issue 16): `lab grant NAME @user` lets a team member do
 * what the lab's owner may (destroy, extend, rotate and roll back its
 * secrets); `lab revoke NAME @user` takes that back. Only the owner or an
 * admin grants, in the lab's own conversation. Answered at intake: it only
 * changes the lab's record, in one atomic registry update.
 */

/** The most members one lab may have besides its owner. */
export const MAX_MEMBERS = 20;

export type MemberCommand = Extract<Command, { kind: "lab.grant" | "lab.revoke" }>;

export function isMemberCommand(command: Command): command is MemberCommand {
  return command.kind === "lab.grant" || command.kind === "lab.revoke";
}

/**
 * A user as the platform sends a mention in command text: Slack's escaped
 * `<@U0123>` or `<@U0123|name>`; the Teams adapter writes its mention
 * entities (`<at>Name</at>`) the same way, with the user's AAD object id.
 */
const MENTION = /^<@([A-Za-z0-9][A-Za-z0-9-]{0,39})(?:\|[^<>|]{0,80})?>$/;

/** The user id of a mention, or undefined when the word is not one. */
export function mentionedId(word: string): string | undefined {
  return MENTION.exec(word)?.[1];
}

/** The text of the refusal of a malformed mention. */
export function badMentionText(kind: MemberCommand["kind"]): string {
  const verb = kind === "lab.grant" ? "grant" : "revoke";
  return `Name the member by mentioning them, e.g. \`lab ${verb} team-a @jane\`: pick them from the list that opens when you type @, so the chat sends who they are. One member per command.`;
}

/** The member as a ChatUser, on the platform the command came from (never from the text). */
export function memberUser(command: MemberCommand, platform: Platform): ChatUser {
  const id = platform === "teams" ? command.member.toLowerCase() : command.member;
  return { platform, id, ...(command.memberName ? { name: command.memberName } : {}) };
}

export type MemberChange =
  | {
      ok: true;
      text: string;
      /** The record as stored afterwards, and whether the member is (grant) or is no longer (revoke) in it. */
      record?: LabRecord;
      /** The member's list changed (false: granted again, or revoked while not a member). */
      changed?: boolean;
    }
  | { ok: false; reason: string; text: string };

/**
 * Applies the grant or revoke to the stored record in one atomic update and
 * says what happened. Granting the owner or an existing member, or revoking
 * someone who is not a member, changes nothing and says so.
 */
export async function changeMembers(
  command: MemberCommand,
  platform: Platform,
  registry: Pick<LabRegistry, "update">,
  clock: Pick<Clock, "now">,
): Promise<MemberChange> {
  const member = memberUser(command, platform);
  const lab = `\`${verbatim(command.lab)}\``;
  let outcome: MemberChange | undefined;
  const updated = await registry.update(command.lab, (record) => {
    const members = record.members ?? [];
    const already = members.some((m) => sameUser(m, member));
    if (command.kind === "lab.grant") {
      if (sameUser(record.owner, member)) {
        outcome = {
          ok: false,
          reason: "member_is_owner",
          text: `${mention(member)} owns lab ${lab} already.`,
        };
        return record;
      }
      if (already) {
        outcome = {
          ok: true,
          text: `${mention(member)} is already a member of lab ${lab}; nothing changed.`,
          changed: false,
        };
        return record;
      }
      if (members.length >= MAX_MEMBERS) {
        outcome = {
          ok: false,
          reason: "too_many_members",
          text: `Lab ${lab} has ${MAX_MEMBERS} members, the most a lab may have. Revoke one first with \`lab revoke ${verbatim(command.lab)} @user\`.`,
        };
        return record;
      }
      outcome = {
        ok: true,
        text: `${mention(member)} may now destroy, extend and rotate or roll back the secrets of lab ${lab}, as its owner may. Undo with \`lab revoke ${verbatim(command.lab)} @user\`.`,
        changed: true,
      };
      return { ...record, members: [...members, member], updatedAt: clock.now() };
    }
    if (!already) {
      outcome = {
        ok: true,
        text: `${mention(member)} is not a member of lab ${lab}; nothing changed.`,
        changed: false,
      };
      return record;
    }
    outcome = { ok: true, text: `${mention(member)} is no longer a member of lab ${lab}.`, changed: true };
    return { ...record, members: members.filter((m) => !sameUser(m, member)), updatedAt: clock.now() };
  });
  if (!updated || !outcome) {
    return { ok: false, reason: "no_lab", text: `There is no lab ${lab}. Say \`lab list\` to see the labs.` };
  }
  return outcome.ok ? { ...outcome, record: updated } : outcome;
}

/** `lab grant NAME @user` / `lab revoke NAME @user`, after the lab name was checked. */
export function parseMember(
  kind: MemberCommand["kind"],
  lab: string,
  words: readonly string[],
  usage: string,
): ParseResult {
  const [word, ...extra] = words;
  const id = word === undefined || extra.length > 0 ? undefined : mentionedId(word);
  if (id === undefined) return { ok: false, rejection: { message: `${badMentionText(kind)} ${usage}` } };
  return { ok: true, command: { kind, lab, member: id } };
}
