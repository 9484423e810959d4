import { randomBytes } from "node:crypto";
import { slackSignature } from "./signing.ts";

/**
 * Sends requests to a bot exactly as Slack does: form-encoded slash commands
 * with the v0 signature over the raw body, the timestamp header, and the
 * content type Bolt compares exactly.
 */

export interface SlashCommandInput {
  command: string;
  text: string;
  team?: string;
  channel?: string;
  user?: string;
  userName?: string;
  triggerId?: string;
  responseUrl?: string;
}

export interface SignedRequestOptions {
  /** Seconds since the epoch; defaults to now. */
  timestamp?: number;
  /** Sign with this secret instead (forgeries). */
  signWith?: string;
  headers?: Record<string, string>;
}

export interface SlackResponse {
  status: number;
  body: string;
  json(): unknown;
}

export function newTriggerId(): string {
  return `${Date.now()}.${randomBytes(4).readUInt32BE()}.${randomBytes(16).toString("hex")}`;
}

export function slashCommandBody(input: SlashCommandInput): string {
  const form = new URLSearchParams({
    token: "deprecated-verification-token",
    team_id: input.team ?? "T0001",
    team_domain: "labops-demo",
    channel_id: input.channel ?? "C0001",
    channel_name: "platform",
    user_id: input.user ?? "U0001",
    user_name: input.userName ?? "ada",
    command: input.command,
    text: input.text,
    api_app_id: "A0001",
    is_enterprise_install: "false",
    response_url: input.responseUrl ?? "https://hooks.slack.invalid/commands/T0001/1/x",
    trigger_id: input.triggerId ?? newTriggerId(),
  });
  return form.toString();
}

export class SlackRequestClient {
  readonly #url: string;
  readonly #signingSecret: string;

  /** `url` is the bot's events endpoint, e.g. http://127.0.0.1:3978/slack/events. */
  constructor(url: string, signingSecret: string) {
    this.#url = url;
    this.#signingSecret = signingSecret;
  }

  async postRaw(
    rawBody: string,
    contentType: string,
    options: SignedRequestOptions = {},
  ): Promise<SlackResponse> {
    const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
    const signature = slackSignature(options.signWith ?? this.#signingSecret, timestamp, rawBody);
    const res = await fetch(this.#url, {
      method: "POST",
      headers: {
        "content-type": contentType,
        "x-slack-request-timestamp": String(timestamp),
        "x-slack-signature": signature,
        ...options.headers,
      },
      body: rawBody,
    });
    const body = await res.text();
    return { status: res.status, body, json: () => JSON.parse(body) };
  }

  slashCommand(input: SlashCommandInput, options: SignedRequestOptions = {}): Promise<SlackResponse> {
    return this.postRaw(slashCommandBody(input), "application/x-www-form-urlencoded", options);
  }
}
