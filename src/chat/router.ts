import { LabopsError } from "../errors.ts";
import type {
  Card,
  ChatAddress,
  ChatMessage,
  ChatPort,
  ChatUser,
  ConfirmationPrompt,
  Platform,
  ThreadRef,
} from "../ports/chat.ts";
import { cardFor, messageFor, promptFor } from "./hints.ts";

/**
 * One ChatPort over several platforms: each call goes to the platform of its
 * address, with the commands it suggests in that platform's form (hints.ts).
 */
export class ChatRouter implements ChatPort {
  readonly #byPlatform: Partial<Record<Platform, ChatPort>>;

  constructor(byPlatform: Partial<Record<Platform, ChatPort>>) {
    this.#byPlatform = byPlatform;
  }

  #for(platform: Platform): ChatPort {
    const chat = this.#byPlatform[platform];
    if (!chat) {
      throw new LabopsError(
        "chat_not_configured",
        `A ${platform} conversation needs ${platform === "slack" ? "SLACK_BOT_TOKEN" : "MICROSOFT_APP_ID"} on this worker.`,
      );
    }
    return chat;
  }

  openThread(address: ChatAddress, card: Card): Promise<ThreadRef> {
    return this.#for(address.platform).openThread(address, cardFor(card, address.platform));
  }
  updateCard(thread: ThreadRef, card: Card): Promise<void> {
    return this.#for(thread.address.platform).updateCard(thread, cardFor(card, thread.address.platform));
  }
  reply(thread: ThreadRef, message: ChatMessage): Promise<void> {
    return this.#for(thread.address.platform).reply(thread, messageFor(message, thread.address.platform));
  }
  async hasReply(thread: ThreadRef, text: string): Promise<boolean> {
    const platform = thread.address.platform;
    return (await this.#for(platform).hasReply?.(thread, messageFor(text, platform) as string)) ?? false;
  }
  notify(address: ChatAddress, user: ChatUser, message: ChatMessage): Promise<void> {
    return this.#for(address.platform).notify(address, user, messageFor(message, address.platform));
  }
  postAlert(address: ChatAddress, card: Card): Promise<ThreadRef> {
    return this.#for(address.platform).postAlert(address, cardFor(card, address.platform));
  }
  askConfirmation(address: ChatAddress, user: ChatUser, prompt: ConfirmationPrompt): Promise<void> {
    return this.#for(address.platform).askConfirmation(address, user, promptFor(prompt, address.platform));
  }
  /** Waits until every platform has delivered the cards it accepted (at shutdown). */
  async flush(): Promise<void> {
    await Promise.all(
      Object.values(this.#byPlatform).map((chat) =>
        chat && "flush" in chat && typeof chat.flush === "function"
          ? (chat.flush as () => Promise<void>)()
          : undefined,
      ),
    );
  }
}
