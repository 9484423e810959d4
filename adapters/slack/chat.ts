import { WebClient } from "@slack/web-api";
import { ExternalError } from "../../src/errors.ts";
import type { Logger } from "../../src/log.ts";
import type { Card, ChatAddress, ChatMessage, ChatPort, ChatUser, ThreadRef } from "../../src/ports/chat.ts";
import { slackLogger } from "./logger.ts";
import { cardBlocks, cardText } from "./render.ts";

export interface SlackChatOptions {
  botToken: string;
  apiUrl: string;
  logger: Logger;
  /** Per-call timeout; the Web API client retries and honours 429 Retry-After itself. */
  timeoutMs?: number;
}

/** The chat port on Slack's Web API. */
export class SlackChat implements ChatPort {
  readonly client: WebClient;

  constructor(options: SlackChatOptions) {
    this.client = new WebClient(options.botToken, {
      slackApiUrl: options.apiUrl,
      logger: slackLogger(options.logger),
      timeout: options.timeoutMs ?? 10_000,
      retryConfig: { retries: 4, factor: 2, minTimeout: 500, maxTimeout: 10_000 },
      rejectRateLimitedCalls: false,
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
    if (typeof ts !== "string")
      throw new ExternalError("slack", "slack_no_ts", "Slack did not return the message timestamp.");
    const channel = typeof result.channel === "string" ? result.channel : address.channel;
    return { address: { ...address, channel }, threadId: ts, cardId: ts };
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
    const content =
      typeof message === "string"
        ? { text: message }
        : { text: cardText(message), blocks: cardBlocks(message) };
    await this.#call("chat.postMessage", () =>
      this.client.chat.postMessage({
        channel: thread.address.channel,
        thread_ts: thread.threadId,
        ...content,
      }),
    );
  }

  async notify(address: ChatAddress, user: ChatUser, message: ChatMessage): Promise<void> {
    const content =
      typeof message === "string"
        ? { text: message }
        : { text: cardText(message), blocks: cardBlocks(message) };
    await this.#call("chat.postEphemeral", () =>
      this.client.chat.postEphemeral({ channel: address.channel, user: user.id, ...content }),
    );
  }

  async #call<T extends { ok?: boolean; error?: string }>(method: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      const code =
        typeof cause === "object" && cause !== null && "data" in cause
          ? String((cause as { data?: { error?: string } }).data?.error ?? "slack_error")
          : "slack_error";
      throw new ExternalError("slack", code, `Slack ${method} failed (${code}).`, { cause });
    }
  }
}
