/**
 * The chat port: what jobs, the watcher and the command handlers say to
 * people, independent of Slack or Teams. Implemented by SlackChat, TeamsChat
 * and RecordingChat; one contract suite runs against all of them.
 */

export type Platform = "slack" | "teams";

/** Where a conversation happens. */
export interface ChatAddress {
  platform: Platform;
  /** Slack team id; Teams tenant id. */
  tenant: string;
  /** Slack channel id; Teams conversation id (of the channel or personal chat). */
  channel: string;
  /** Teams only: the Bot Connector base URL of this conversation. */
  serviceUrl?: string;
}

export interface ChatUser {
  platform: Platform;
  /** Slack user id; Teams AAD object id (falls back to the channel account id). */
  id: string;
  name?: string;
}

/** A thread the bot opened: its root message holds the status card. */
export interface ThreadRef {
  address: ChatAddress;
  /** Slack ts of the root message; Teams activity id of the root. */
  threadId: string;
  /** The message that `updateCard` rewrites (the root, on both platforms). */
  cardId: string;
}

export type StepState = "pending" | "running" | "done" | "failed" | "skipped";
export type CardStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled" | "info" | "warning";

export interface CardStep {
  name: string;
  label: string;
  state: StepState;
  durationMs?: number;
  /** One line: an error code and hint, an output such as the vault name. */
  detail?: string;
}

/** Action ids a card button can carry; the chat adapters route them back as commands. */
export type ActionId =
  | "destroy.confirm"
  | "destroy.cancel"
  | "lab.retry"
  | "lab.extend"
  | "secret.rotate.open";

export type CardAction =
  | { kind: "button"; id: ActionId; label: string; value: string; style?: "primary" | "danger" }
  | { kind: "link"; label: string; url: string };

/** A platform-neutral card: Slack renders Block Kit, Teams an Adaptive Card. */
export interface Card {
  title: string;
  status: CardStatus;
  text?: string;
  steps?: CardStep[];
  progress?: { done: number; total: number };
  fields?: Array<{ label: string; value: string }>;
  actions?: CardAction[];
  /** Small print, e.g. the correlation id users can quote. */
  footer?: string;
}

export type ChatMessage = string | Card;

/** A question only its addressee may answer: confirm and cancel buttons that carry `confirmationId` back. */
export interface ConfirmationPrompt {
  /** Id of the pending confirmation (ConfirmationStore); the buttons carry it, never the command. */
  confirmationId: string;
  title: string;
  text: string;
  confirmLabel: string;
  cancelLabel: string;
  /** When the confirmation lapses; shown to the user. */
  expiresAt: number;
}

export interface ChatPort {
  /** Posts `card` as a new top-level message and returns the thread it starts. */
  openThread(address: ChatAddress, card: Card): Promise<ThreadRef>;
  /**
   * Rewrites the thread's status card in place. Resolves once the card is
   * accepted: the platform implementations coalesce bursts (at most one update
   * per message per second, the latest card wins) and deliver in the
   * background, so a step runner is never slowed down by chat limits.
   */
  updateCard(thread: ThreadRef, card: Card): Promise<void>;
  /** Adds a message to the thread. */
  reply(thread: ThreadRef, message: ChatMessage): Promise<void>;
  /**
   * Whether the thread already holds a reply with exactly this text: a job
   * resumed after its worker died asks before saying something the dead one may
   * have said. Platforms that cannot read a thread back answer false.
   */
  hasReply?(thread: ThreadRef, text: string): Promise<boolean>;
  /**
   * A message for `user`: Slack shows it to them only (ephemeral); Teams has no
   * private messages in a channel, so it goes to the thread the user last wrote
   * in, with an @mention (in a personal chat it is private anyway).
   */
  notify(address: ChatAddress, user: ChatUser, message: ChatMessage): Promise<void>;
  /** Posts an alert to a lab's channel as a new thread and returns it, so follow-ups go in that thread. */
  postAlert(address: ChatAddress, card: Card): Promise<ThreadRef>;
  /** Asks `user` to confirm, where only they see it when the platform allows. */
  askConfirmation(address: ChatAddress, user: ChatUser, prompt: ConfirmationPrompt): Promise<void>;
}
