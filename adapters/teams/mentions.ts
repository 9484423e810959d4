import type { Activity } from "botbuilder";
import type { ConnectorClient } from "botframework-connector";

interface MentionEntity {
  type?: string;
  text?: string;
  mentioned?: { id?: string; aadObjectId?: string; name?: string };
}

/** What labops knows a Teams user by: an AAD object id (a GUID), nothing else. */
const AAD_OBJECT_ID = /^[A-Za-z0-9-]{1,40}$/;
/** A Bot Framework user id in Teams (`29:…`), as a mention entity names the user. */
const TEAMS_USER_ID = /^29:[A-Za-z0-9_-]{1,300}$/;
/**
 * `lab grant …` / `lab revoke …`, starting the message as parseMessageText
 * reads it: after an optional leading mention (`<at>…</at>`, `@name`) and `/`.
 */
const MEMBER_COMMAND =
  /^(?:\s|&nbsp;)*(?:(?:<at>[^<]{0,100}<\/at>|@[\w.-]{1,80})[\s,:]*)?\/?lab(?:\s|&nbsp;)+(?:grant|revoke)(?:\s|&nbsp;|$)/i;

/** How long a member lookup may take before the mention is left as typed (a wall-clock guard, never scaled). */
export const MEMBER_LOOKUP_TIMEOUT_MS = 4_000;

/** The user mentions of a message that appear in its text, the bot's own left out. */
function userMentions(activity: Activity, text: string): MentionEntity[] {
  // Whatever the sender put there: not necessarily an array of objects.
  const entities: unknown = activity.entities;
  if (!Array.isArray(entities)) return [];
  return (entities as Array<MentionEntity | null>).filter(
    (e): e is MentionEntity =>
      typeof e === "object" &&
      e !== null &&
      e.type === "mention" &&
      typeof e.text === "string" &&
      e.text !== "" &&
      e.mentioned?.id !== activity.recipient?.id &&
      text.includes(e.text),
  );
}

/**
 * Writes the users a message @mentions (`<at>Jane</at>`, with a mention
 * entity saying who) as `<@aad-object-id>`, the form `lab grant NAME @user`
 * reads. The AAD object id, the id labops knows users by, is the entity's own
 * when it carries one, else the one `resolved` found for its `29:` user id
 * (`resolveMentions`). The bot's own mention was removed before, and is
 * skipped here too. Anything else stays as typed and the parser refuses it.
 *
 * The entity's aadObjectId is taken as it comes: the activity carrying it is
 * signed by the Bot Framework (CloudAdapter verified its JWT), so its entities
 * are as trustworthy as its sender, whom labops trusts already. And a mention
 * decides nothing by itself: only the lab's owner or an admin may grant, and
 * a wrong id could only point a grant they were entitled to make at someone
 * else. So no lookup second-guesses an id the entity carries.
 */
export function withUserMentions(
  activity: Activity,
  text: string,
  resolved: ReadonlyMap<string, string> = new Map(),
): string {
  let out = text;
  for (const entity of userMentions(activity, text)) {
    const userId = entity.mentioned?.id;
    const id = entity.mentioned?.aadObjectId ?? (userId ? resolved.get(userId) : undefined);
    if (!id || !AAD_OBJECT_ID.test(id)) continue;
    out = out.replace(entity.text as string, `<@${id}>`);
  }
  return out;
}

/**
 * The names a message's user mentions showed (`<at>Bob Smith</at>`), by the
 * AAD object id `withUserMentions` wrote for each: what a grant's answer
 * calls the member. Display only (escaped where shown), at most 80
 * characters, control characters dropped.
 */
export function mentionNames(
  activity: Activity,
  text: string,
  resolved: ReadonlyMap<string, string> = new Map(),
): Map<string, string> {
  const names = new Map<string, string>();
  for (const entity of userMentions(activity, text)) {
    const userId = entity.mentioned?.id;
    const id = entity.mentioned?.aadObjectId ?? (userId ? resolved.get(userId) : undefined);
    const shown = entity.mentioned?.name ?? (entity.text as string).replace(/<\/?at>/g, "");
    const name =
      typeof shown === "string"
        ? shown
            .replace(/\p{Cc}/gu, "")
            .trim()
            .slice(0, 80)
        : "";
    if (id && AAD_OBJECT_ID.test(id) && name !== "") names.set(id.toLowerCase(), name);
  }
  return names;
}

/**
 * The `29:` user ids to look up before `withUserMentions` can write a
 * message's mentions: those of mentions without an aadObjectId, in a
 * `lab grant` or `lab revoke` (no other command reads a mention, so no other
 * message waits for a lookup). Empty when more than one user would need one:
 * the command takes a single member and the parser refuses more anyway.
 */
export function mentionsToLookUp(activity: Activity, text: string): string[] {
  if (!MEMBER_COMMAND.test(text)) return [];
  const ids = new Set<string>();
  for (const entity of userMentions(activity, text)) {
    const userId = entity.mentioned?.id;
    if (entity.mentioned?.aadObjectId || !userId || !TEAMS_USER_ID.test(userId)) continue;
    ids.add(userId);
  }
  return ids.size === 1 ? [...ids] : [];
}

/** Looks one Teams user up; their AAD object id, or undefined when they are not found. */
export type MemberLookup = (userId: string) => Promise<string | undefined>;

/** The AAD object ids `lookup` found for `userIds`; a lookup that fails leaves its user out. */
export async function resolveMentions(
  userIds: readonly string[],
  lookup: MemberLookup,
): Promise<Map<string, string>> {
  const found = await Promise.all(
    userIds.map((id) =>
      lookup(id).then(
        (aad) => [id, aad] as const,
        () => [id, undefined] as const,
      ),
    ),
  );
  const resolved = new Map<string, string>();
  for (const [id, aad] of found) if (aad && AAD_OBJECT_ID.test(aad)) resolved.set(id, aad);
  return resolved;
}

/**
 * A member lookup on the turn's Bot Connector client (the adapter's, signed
 * with the bot's token): what botbuilder's `TeamsInfo.getMember(context,
 * userId)` does (botbuilder-js libraries/botbuilder/src/teamsInfo.ts:
 * `getTeamMember` on `channelData.team.id` in a team, else on the
 * conversation id; both `conversations.getConversationMember`, i.e.
 * GET {serviceUrl}/v3/conversations/{id}/members/{userId}, answering a
 * TeamsChannelAccount), called here directly only to give the request a
 * timeout. A user who is not a member is a 404 (MemberNotFoundInConversation),
 * which rejects like a timeout does.
 */
export function connectorMemberLookup(
  client: ConnectorClient,
  activity: Activity,
  timeoutMs = MEMBER_LOOKUP_TIMEOUT_MS,
): MemberLookup {
  const team = (activity.channelData as { team?: { id?: unknown } } | undefined)?.team?.id;
  const conversationId = typeof team === "string" && team !== "" ? team : activity.conversation.id;
  return async (userId) => {
    const member = await client.conversations.getConversationMember(conversationId, userId, {
      timeout: timeoutMs,
    });
    return typeof member?.aadObjectId === "string" ? member.aadObjectId : undefined;
  };
}
