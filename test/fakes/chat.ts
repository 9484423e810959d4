import { confirmationCard } from "../../src/chat/cards.ts";
import type {
  Card,
  ChatAddress,
  ChatMessage,
  ChatPort,
  ChatUser,
  ConfirmationPrompt,
  ThreadRef,
} from "../../src/ports/chat.ts";

/** One thread as RecordingChat keeps it: what a user would see, plus how it got there. */
export interface RecordedThread {
  ref: ThreadRef;
  /** The card as it reads now. */
  card: Card;
  /** Every card the root showed, oldest first. */
  cards: Card[];
  replies: ChatMessage[];
  alert: boolean;
}

export interface RecordedNotice {
  address: ChatAddress;
  user: ChatUser;
  message: ChatMessage;
}

export type RecordedCall =
  | { op: "openThread" | "postAlert"; threadId: string }
  | { op: "updateCard"; threadId: string }
  | { op: "reply"; threadId: string }
  | { op: "notify" | "askConfirmation"; user: string };

/**
 * The chat port in memory, with no SDK: for tests of jobs and the watcher,
 * and the reference the platform implementations are held to by the shared
 * contract suite. It neither paces nor coalesces; it shows every call as made.
 */
export class RecordingChat implements ChatPort {
  readonly threads = new Map<string, RecordedThread>();
  readonly notices: RecordedNotice[] = [];
  readonly calls: RecordedCall[] = [];
  #seq = 0;

  #open(address: ChatAddress, card: Card, alert: boolean): ThreadRef {
    this.#seq += 1;
    const threadId = `r${String(this.#seq).padStart(6, "0")}`;
    const ref: ThreadRef = { address: { ...address }, threadId, cardId: threadId };
    this.threads.set(threadId, { ref, card, cards: [card], replies: [], alert });
    this.calls.push({ op: alert ? "postAlert" : "openThread", threadId });
    return ref;
  }

  #thread(ref: ThreadRef): RecordedThread {
    const thread = this.threads.get(ref.threadId);
    if (!thread) throw new Error(`RecordingChat: no thread ${ref.threadId}; open it first`);
    return thread;
  }

  async openThread(address: ChatAddress, card: Card): Promise<ThreadRef> {
    return this.#open(address, card, false);
  }

  async postAlert(address: ChatAddress, card: Card): Promise<ThreadRef> {
    return this.#open(address, card, true);
  }

  async updateCard(thread: ThreadRef, card: Card): Promise<void> {
    const t = this.#thread(thread);
    t.card = card;
    t.cards.push(card);
    this.calls.push({ op: "updateCard", threadId: thread.threadId });
  }

  async reply(thread: ThreadRef, message: ChatMessage): Promise<void> {
    this.#thread(thread).replies.push(message);
    this.calls.push({ op: "reply", threadId: thread.threadId });
  }

  async notify(address: ChatAddress, user: ChatUser, message: ChatMessage): Promise<void> {
    this.notices.push({ address: { ...address }, user: { ...user }, message });
    this.calls.push({ op: "notify", user: user.id });
  }

  async askConfirmation(address: ChatAddress, user: ChatUser, prompt: ConfirmationPrompt): Promise<void> {
    this.notices.push({
      address: { ...address },
      user: { ...user },
      message: confirmationCard(prompt, Date.now()),
    });
    this.calls.push({ op: "askConfirmation", user: user.id });
  }

  /** Threads of one conversation, oldest first. */
  threadsIn(address: Pick<ChatAddress, "platform" | "channel">): RecordedThread[] {
    return [...this.threads.values()].filter(
      (t) => t.ref.address.platform === address.platform && t.ref.address.channel === address.channel,
    );
  }

  /** What `user` was told, oldest first. */
  noticesFor(user: Pick<ChatUser, "platform" | "id">): ChatMessage[] {
    return this.notices
      .filter((n) => n.user.platform === user.platform && n.user.id === user.id)
      .map((n) => n.message);
  }
}
