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

/** One ChatPort over several platforms: each call goes to the platform of its address. */
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
    return this.#for(address.platform).openThread(address, card);
  }
  updateCard(thread: ThreadRef, card: Card): Promise<void> {
    return this.#for(thread.address.platform).updateCard(thread, card);
  }
  reply(thread: ThreadRef, message: ChatMessage): Promise<void> {
    return this.#for(thread.address.platform).reply(thread, message);
  }
  async hasReply(thread: ThreadRef, text: string): Promise<boolean> {
    return (await this.#for(thread.address.platform).hasReply?.(thread, text)) ?? false;
  }
  notify(address: ChatAddress, user: ChatUser, message: ChatMessage): Promise<void> {
    return this.#for(address.platform).notify(address, user, message);
  }
  postAlert(address: ChatAddress, card: Card): Promise<ThreadRef> {
    return this.#for(address.platform).postAlert(address, card);
  }
  askConfirmation(address: ChatAddress, user: ChatUser, prompt: ConfirmationPrompt): Promise<void> {
    return this.#for(address.platform).askConfirmation(address, user, prompt);
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
