import type { Activity, CloudAdapter, ConversationReference, TurnContext } from "botbuilder";
import type { ConnectorClient } from "botframework-connector";
import { confirmationCard } from "../../src/chat/cards.ts";
import { teamsBaseConversation } from "../../src/chat/limits.ts";
import type { Clock } from "../../src/clock.ts";
import { ExternalError } from "../../src/errors.ts";
import type {
  Card,
  ChatAddress,
  ChatMessage,
  ChatPort,
  ChatUser,
  ConfirmationPrompt,
  ThreadRef,
} from "../../src/ports/chat.ts";
import type { ConversationReferenceStore } from "../../src/ports/conversations.ts";
import { ADAPTIVE_CARD, adaptiveCard, teamsMarkup } from "./render.ts";

/** Keys of the conversation references the Teams app saves for proactive messages. */
export function conversationKey(address: ChatAddress): string {
  return `teams:${address.tenant}:${teamsBaseConversation(address.channel)}`;
}
export function userConversationKey(address: ChatAddress, user: ChatUser): string {
  return `${conversationKey(address)}:${user.id.toLowerCase()}`;
}

export interface TeamsChatOptions {
  adapter: CloudAdapter;
  appId: string;
  references: ConversationReferenceStore;
  /** For a confirmation card's "expires in N min". */
  clock: Pick<Clock, "now">;
}

/**
 * The chat port on the Bot Connector, through botbuilder's CloudAdapter: each
 * call continues the conversation proactively (continueConversationAsync) from
 * the reference the web role stored in Redis, so any worker process can post.
 * In a channel a thread is a root post and its replies go to
 * `<channel>;messageid=<root>`; personal and group chats have no threads, so
 * replies follow the card. Unpaced: wrap it in PacedChat with `teamsRatePolicy`.
 */
export class TeamsChat implements ChatPort {
  readonly #adapter: CloudAdapter;
  readonly #appId: string;
  readonly #references: ConversationReferenceStore;
  readonly #clock: Pick<Clock, "now">;

  constructor(options: TeamsChatOptions) {
    this.#clock = options.clock;
    this.#adapter = options.adapter;
    this.#appId = options.appId;
    this.#references = options.references;
  }

  async #reference(address: ChatAddress): Promise<Partial<ConversationReference>> {
    const saved = (await this.#references.get(conversationKey(address))) as
      | Partial<ConversationReference>
      | undefined;
    if (saved) return saved;
    // A conversation the bot has not heard from since its references were kept: rebuild one.
    if (!address.serviceUrl) {
      throw new ExternalError(
        "teams",
        "teams_no_reference",
        "labops has no way to reach this Teams conversation yet: mention the bot there once, then try again.",
      );
    }
    const id = teamsBaseConversation(address.channel);
    const channel = /@thread\.(tacv2|skype)$/.test(id);
    const conversationType = channel ? "channel" : id.endsWith("@thread.v2") ? "groupChat" : "personal";
    return {
      channelId: "msteams",
      serviceUrl: address.serviceUrl,
      bot: { id: `28:${this.#appId}`, name: "labops" },
      conversation: {
        id,
        isGroup: conversationType !== "personal",
        conversationType,
        tenantId: address.tenant,
        name: "",
      },
    };
  }

  /** Runs `send` in a proactive turn of `address`'s conversation, with that turn's connector client. */
  async #continue<T>(
    address: ChatAddress,
    send: (client: ConnectorClient, ref: Partial<ConversationReference>) => Promise<T>,
  ): Promise<T> {
    const reference = await this.#reference(address);
    let result: T | undefined;
    let done = false;
    try {
      await this.#adapter.continueConversationAsync(this.#appId, reference, async (context: TurnContext) => {
        const client = context.turnState.get<ConnectorClient>(this.#adapter.ConnectorClientKey);
        result = await send(client, reference);
        done = true;
      });
    } catch (cause) {
      throw teamsError(cause);
    }
    if (!done)
      throw new ExternalError("teams", "teams_not_sent", "Teams did not take the message; try again.");
    return result as T;
  }

  #isChannel(reference: Partial<ConversationReference>): boolean {
    return reference.conversation?.conversationType === "channel";
  }

  async openThread(address: ChatAddress, card: Card): Promise<ThreadRef> {
    const base = teamsBaseConversation(address.channel);
    const id = await this.#continue(address, async (client) => {
      const sent = await client.conversations.sendToConversation(base, cardActivity(card));
      return sent.id;
    });
    if (!id)
      throw new ExternalError("teams", "teams_no_id", "Teams did not return the message id; try again.");
    return { address: { ...address, channel: base }, threadId: id, cardId: id };
  }

  postAlert(address: ChatAddress, card: Card): Promise<ThreadRef> {
    return this.openThread(address, card);
  }

  async updateCard(thread: ThreadRef, card: Card): Promise<void> {
    const base = teamsBaseConversation(thread.address.channel);
    await this.#continue(thread.address, (client) =>
      client.conversations.updateActivity(base, thread.cardId, { ...cardActivity(card), id: thread.cardId }),
    );
  }

  async reply(thread: ThreadRef, message: ChatMessage): Promise<void> {
    const base = teamsBaseConversation(thread.address.channel);
    await this.#continue(thread.address, (client, ref) =>
      client.conversations.sendToConversation(
        this.#isChannel(ref) ? `${base};messageid=${thread.threadId}` : base,
        messageActivity(message),
      ),
    );
  }

  /**
   * Teams has no private message in a channel: the message goes to the thread
   * the user last wrote in (where they expect the answer), with an @mention;
   * in a personal chat it simply is private.
   */
  async notify(address: ChatAddress, user: ChatUser, message: ChatMessage): Promise<void> {
    const userRef = (await this.#references.get(userConversationKey(address, user))) as
      | Partial<ConversationReference>
      | undefined;
    const base = teamsBaseConversation(address.channel);
    await this.#continue(address, async (client, ref) => {
      const channel = this.#isChannel(ref);
      const target = channel ? (userRef?.conversation?.id ?? base) : base;
      const mentionable = channel && userRef?.user?.id !== undefined;
      const activity = messageActivity(message);
      if (mentionable && userRef?.user) {
        const name = userRef.user.name ?? user.name ?? "you";
        const at = `<at>${name}</at>`;
        activity.text = `${at} ${activity.text ?? ""}`.trim();
        activity.entities = [{ type: "mention", text: at, mentioned: { id: userRef.user.id, name } }];
      }
      return client.conversations.sendToConversation(target, activity);
    });
  }

  askConfirmation(address: ChatAddress, user: ChatUser, prompt: ConfirmationPrompt): Promise<void> {
    return this.notify(address, user, confirmationCard(prompt, this.#clock.now()));
  }
}

export function cardActivity(card: Card): Partial<Activity> & { type: "message" } {
  return {
    type: "message",
    // Shown in notifications and by clients that cannot draw the card.
    summary: card.title,
    attachments: [{ contentType: ADAPTIVE_CARD, content: adaptiveCard(card) }],
  };
}

export function messageActivity(message: ChatMessage): Partial<Activity> & { type: "message" } {
  if (typeof message !== "string") return cardActivity(message);
  return { type: "message", text: teamsMarkup(message), textFormat: "markdown" };
}

/** A Bot Connector failure as an ExternalError: 429s carry their Retry-After for PacedChat. */
export function teamsError(cause: unknown): ExternalError {
  if (cause instanceof ExternalError) return cause;
  const err = (typeof cause === "object" && cause !== null ? cause : {}) as {
    statusCode?: number;
    code?: string;
    response?: { headers?: { get?(name: string): string | undefined } };
  };
  const status = err.statusCode;
  if (status === 429) {
    const header = err.response?.headers?.get?.("retry-after");
    const retryAfterMs = header ? Number(header) * 1000 : 1_000;
    return new ExternalError(
      "teams",
      "teams_rate_limited",
      "Teams is throttling this conversation; retried after its Retry-After.",
      {
        status,
        retryAfterMs,
        cause,
      },
    );
  }
  const code = status ? `teams_http_${status}` : (err.code ?? "teams_error");
  return new ExternalError("teams", code, `The Bot Connector call failed (${code}).`, {
    ...(status !== undefined ? { status } : {}),
    cause,
  });
}
