import { createHmac, timingSafeEqual } from "node:crypto";
import type { ChatAddress, ChatUser } from "../ports/chat.ts";

/**
 * What the private rotate form carries back to labops (Slack: the modal's
 * private_metadata; Teams: the card's Action.Execute data) names the secret
 * and lab it was opened for, and Slack's also the channel. The client can put
 * anything there, so the form carries a tag too: an HMAC under `formLinkKey`
 * (src/crypto.ts) over what it links back to, the conversation and the user it
 * was opened for. A form whose tag does not match is refused as malformed.
 */
export interface FormLink {
  address: Pick<ChatAddress, "platform" | "tenant" | "channel">;
  user: Pick<ChatUser, "platform" | "id">;
  secret: string;
  lab: string | undefined;
  create: boolean;
}

/** The tag a form is opened with (43 base64url characters). */
export function formLinkTag(link: FormLink, key: Buffer): string {
  const { address, user } = link;
  const userId = user.platform === "teams" ? user.id.toLowerCase() : user.id;
  const text = JSON.stringify([
    "rotate-form v1",
    address.platform,
    address.tenant,
    address.channel,
    userId,
    link.secret,
    link.lab ?? "",
    link.create,
  ]);
  return createHmac("sha256", key).update(text, "utf8").digest("base64url");
}

/** Whether `tag` (as the client sent it, of any type) is the tag of `link`. */
export function isFormLinkTag(tag: unknown, link: FormLink, key: Buffer): boolean {
  if (typeof tag !== "string" || tag.length !== 43) return false;
  const expected = Buffer.from(formLinkTag(link, key), "utf8");
  const given = Buffer.from(tag, "utf8");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The link of a rotate form opened for `command` by `origin`'s user in `origin`'s conversation. */
export function rotateFormLink(
  origin: { address: FormLink["address"]; user: FormLink["user"] },
  command: { secret: string; lab: string | undefined; create?: boolean | undefined },
): FormLink {
  return {
    address: origin.address,
    user: origin.user,
    secret: command.secret,
    lab: command.lab,
    create: command.create === true,
  };
}
