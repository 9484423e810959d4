import { WebClient } from "@slack/web-api";
import { confirmationCard } from "../../src/chat/cards.ts";
import type { Clock } from "../../src/clock.ts";
import { ExternalError } from "../../src/errors.ts";
import type { Logger } from "../../src/log.ts";
import type {
  Card,
  ChatAddress,
  ChatMessage,
  ChatPort,
  ChatUser,
  ConfirmationPrompt,
  ThreadRef,
} from "../../src/ports/chat.ts";
import { slackLogger } from "./logger.ts";
import { cardBlocks, cardText, slackMarkup } from "./render.ts";

export interface SlackChatOptions {
  botToken: string;
  apiUrl: string;
  logger: Logger;
  /** For a confirmation card's "expires in N min". */
  clock: Pick<Clock, "now">;
  /** Per-call timeout. */
  timeoutMs?: number;
}

/**
 * The chat port on Slack's Web API, one call per method, unpaced: wrap it in
 * PacedChat (src/chat) with `slackRatePolicy`, which keeps Slack's limits for
 * every process and handles a 429. Rate-limited calls are therefore rejected
 * here (`rejectRateLimitedCalls`) rather than retried inside the client, so
 * the Retry-After reaches the shared limiter.
 */
export class SlackChat implements ChatPort {
  readonly client: WebClient;
  readonly #clock: Pick<Clock, "now">;

  constructor(options: SlackChatOptions) {
    this.#clock = options.clock;
    this.client = new WebClient(options.botToken, {
      slackApiUrl: options.apiUrl,
      logger: slackLogger(options.logger),
      timeout: options.timeoutMs ?? 10_000,
      retryConfig: { retries: 3, factor: 2, minTimeout: 500, maxTimeout: 5_000 },
      rejectRateLimitedCalls: true,
    });
  }

  async openThread(address: ChatAddress, card: Card): Promise<ThreadRef> {
    const result = await this.#call("chat.postMessage", () =>
      this.client.chat.postMessage({
        channel: address.channel,
        text: cardText(card),
        blocks: cardBlocks(card),
      }),
    );
    const ts = result.ts;
    if (typeof ts !== "string") {
      throw new ExternalError(
        "slack",
        "slack_no_ts",
        "Slack did not return the message timestamp; try again.",
      );
    }
    const channel = typeof result.channel === "string" ? result.channel : address.channel;
    return { address: { ...address, channel }, threadId: ts, cardId: ts };
  }

  postAlert(address: ChatAddress, card: Card): Promise<ThreadRef> {
    return this.openThread(address, card);
  }

  async updateCard(thread: ThreadRef, card: Card): Promise<void> {
    await this.#call("chat.update", () =>
      this.client.chat.update({
        channel: thread.address.channel,
        ts: thread.cardId,
        text: cardText(card),
        blocks: cardBlocks(card),
      }),
    );
  }

  async reply(thread: ThreadRef, message: ChatMessage): Promise<void> {
    await this.#call("chat.postMessage", () =>
      this.client.chat.postMessage({
        channel: thread.address.channel,
        thread_ts: thread.threadId,
        ...content(message),
      }),
    );
  }

  async hasReply(thread: ThreadRef, text: string): Promise<boolean> {
    const result = await this.#call("conversations.replies", () =>
      this.client.conversations.replies({ channel: thread.address.channel, ts: thread.threadId, limit: 200 }),
    );
    return (result.messages ?? []).some((m) => m.ts !== thread.threadId && m.text === slackMarkup(text));
  }

  async notify(address: ChatAddress, user: ChatUser, message: ChatMessage): Promise<void> {
    await this.#call("chat.postEphemeral", () =>
      this.client.chat.postEphemeral({ channel: address.channel, user: user.id, ...content(message) }),
    );
  }

  askConfirmation(address: ChatAddress, user: ChatUser, prompt: ConfirmationPrompt): Promise<void> {
    return this.notify(address, user, confirmationCard(prompt, this.#clock.now()));
  }

  async #call<T>(method: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      throw slackError(method, cause);
    }
  }
}

function content(message: ChatMessage): { text: string; blocks?: ReturnType<typeof cardBlocks> } {
  return typeof message === "string"
    ? { text: slackMarkup(message) }
    : { text: cardText(message), blocks: cardBlocks(message) };
}

/** A Web API client error as an ExternalError: 429s carry their Retry-After for PacedChat. */
export function slackError(method: string, cause: unknown): ExternalError {
  const err = (typeof cause === "object" && cause !== null ? cause : {}) as {
    code?: string;
    retryAfter?: number;
    data?: { error?: string };
  };
  if (err.code === "slack_webapi_rate_limited_error") {
    const retryAfterMs = (err.retryAfter ?? 1) * 1000;
    return new ExternalError(
      "slack",
      "slack_rate_limited",
      `Slack ${method} is rate limited; it is retried after ${retryAfterMs} ms.`,
      {
        status: 429,
        retryAfterMs,
        cause,
      },
    );
  }
  const code = err.data?.error ?? err.code ?? "slack_error";
  return new ExternalError("slack", code, `Slack ${method} failed (${code}).`, { cause });
}
