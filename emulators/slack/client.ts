import { randomBytes } from "node:crypto";
import { slackSignature } from "./signing.ts";

/**
 * Sends requests to a bot exactly as Slack does: form-encoded slash commands
 * and interactive payloads (`payload=<json>`), JSON event callbacks, each
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

export const FORM = "application/x-www-form-urlencoded";
export const JSON_TYPE = "application/json";

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
    api_app_id: "A0LABOPS",
    is_enterprise_install: "false",
    response_url: input.responseUrl ?? "https://hooks.slack.invalid/commands/T0001/1/x",
    trigger_id: input.triggerId ?? newTriggerId(),
  });
  return form.toString();
}

/** An interactive request body: Slack form-encodes the JSON payload under `payload`. */
export function interactiveBody(payload: Record<string, unknown>): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export interface BlockActionInput {
  team: string;
  user: string;
  userName?: string;
  channel: string;
  messageTs: string;
  ephemeral: boolean;
  actionId: string;
  value?: string;
  blockId?: string;
  triggerId: string;
  responseUrl: string;
  message?: Record<string, unknown>;
}

export function blockActionsPayload(input: BlockActionInput): Record<string, unknown> {
  const actionTs = `${Date.now() / 1000}`;
  return {
    type: "block_actions",
    user: {
      id: input.user,
      username: input.userName ?? input.user,
      name: input.userName ?? input.user,
      team_id: input.team,
    },
    api_app_id: "A0LABOPS",
    token: "deprecated-verification-token",
    container: {
      type: "message",
      message_ts: input.messageTs,
      channel_id: input.channel,
      is_ephemeral: input.ephemeral,
    },
    trigger_id: input.triggerId,
    team: { id: input.team, domain: "labops-demo" },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: input.channel, name: "platform" },
    ...(input.ephemeral ? {} : { message: input.message ?? { ts: input.messageTs, type: "message" } }),
    state: { values: {} },
    response_url: input.responseUrl,
    actions: [
      {
        action_id: input.actionId,
        block_id: input.blockId ?? "actions",
        text: { type: "plain_text", text: input.actionId, emoji: true },
        ...(input.value !== undefined ? { value: input.value } : {}),
        type: "button",
        action_ts: actionTs,
      },
    ],
  };
}

export interface ViewSubmissionInput {
  team: string;
  user: string;
  userName?: string;
  triggerId: string;
  view: Record<string, unknown>;
  viewId: string;
  hash: string;
  /** action_id -> typed value, found under the input block that holds that action_id. */
  values: Record<string, string>;
}

export function viewSubmissionPayload(input: ViewSubmissionInput): Record<string, unknown> {
  const values: Record<string, Record<string, unknown>> = {};
  const blocks = Array.isArray(input.view.blocks)
    ? (input.view.blocks as Array<Record<string, unknown>>)
    : [];
  for (const block of blocks) {
    if (block.type !== "input") continue;
    const element = block.element as Record<string, unknown> | undefined;
    const actionId = String(element?.action_id ?? "");
    const blockId = String(block.block_id ?? actionId);
    const typed = input.values[actionId];
    values[blockId] = {
      [actionId]: { type: String(element?.type ?? "plain_text_input"), value: typed ?? null },
    };
  }
  return {
    type: "view_submission",
    team: { id: input.team, domain: "labops-demo" },
    user: {
      id: input.user,
      username: input.userName ?? input.user,
      name: input.userName ?? input.user,
      team_id: input.team,
    },
    api_app_id: "A0LABOPS",
    token: "deprecated-verification-token",
    trigger_id: input.triggerId,
    view: {
      ...input.view,
      id: input.viewId,
      team_id: input.team,
      hash: input.hash,
      app_id: "A0LABOPS",
      bot_id: "B0BOT",
      state: { values },
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

export interface MentionInput {
  team: string;
  user: string;
  channel: string;
  text: string;
  ts: string;
  threadTs?: string;
  eventId?: string;
}

export function appMentionEvent(input: MentionInput): Record<string, unknown> {
  return {
    token: "deprecated-verification-token",
    team_id: input.team,
    api_app_id: "A0LABOPS",
    event: {
      type: "app_mention",
      user: input.user,
      text: input.text,
      ts: input.ts,
      channel: input.channel,
      event_ts: input.ts,
      ...(input.threadTs ? { thread_ts: input.threadTs } : {}),
    },
    type: "event_callback",
    event_id: input.eventId ?? `Ev${randomBytes(5).toString("hex").toUpperCase()}`,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: input.team, user_id: "U0BOT", is_bot: true }],
  };
}

export class SlackRequestClient {
  readonly #url: string;
  readonly #signingSecret: string;

  /** `url` is the bot's events endpoint, e.g. http://127.0.0.1:3978/slack/events. */
  constructor(url: string, signingSecret: string) {
    this.#url = url;
    this.#signingSecret = signingSecret;
  }

  get url(): string {
    return this.#url;
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
    return this.postRaw(slashCommandBody(input), FORM, options);
  }

  interactive(payload: Record<string, unknown>, options: SignedRequestOptions = {}): Promise<SlackResponse> {
    return this.postRaw(interactiveBody(payload), FORM, options);
  }

  event(body: Record<string, unknown>, options: SignedRequestOptions = {}): Promise<SlackResponse> {
    return this.postRaw(JSON.stringify(body), JSON_TYPE, options);
  }
}
