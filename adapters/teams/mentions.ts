import type { Activity } from "botbuilder";

interface MentionEntity {
  type?: string;
  text?: string;
  mentioned?: { id?: string; aadObjectId?: string };
}

/**
 * Writes the users a message @mentions (`<at>Jane</at>`, with a mention
 * entity saying who) as `<@aad-object-id>`, the form `lab grant NAME @user`
 * reads. Only mentions whose entity carries the user's AAD object id, the id
 * labops knows users by, are rewritten; the bot's own mention was removed
 * before. Anything else stays as typed and the parser refuses it.
 */
export function withUserMentions(activity: Activity, text: string): string {
  let out = text;
  for (const entity of (activity.entities ?? []) as MentionEntity[]) {
    if (entity.type !== "mention" || !entity.text) continue;
    const id = entity.mentioned?.aadObjectId;
    if (entity.mentioned?.id === activity.recipient?.id) continue;
    if (!id || !/^[A-Za-z0-9-]{1,40}$/.test(id)) continue;
    out = out.replace(entity.text, `<@${id}>`);
  }
  return out;
}
