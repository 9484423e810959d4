import {
  appMentionEvent,
  blockActionsPayload,
  FORM,
  interactiveBody,
  JSON_TYPE,
  type SignedRequestOptions,
  SlackRequestClient,
  slashCommandBody,
  viewSubmissionPayload,
} from "./client.ts";
import {
  BOT_USER_ID,
  type RecordedCall,
  type SlackEmulatorOptions,
  type SlackEmulatorServer,
  type SlackMessage,
  type SlackView,
  startSlackEmulatorServer,
} from "./emulator.ts";
import type { EnvelopeType } from "./socket-mode.ts";

export * from "./client.ts";
export * from "./emulator.ts";
export * from "./signing.ts";
export * from "./socket-mode.ts";

/** What one request to the bot came back with. */
export interface Delivery {
  via: "http" | "socket";
  /** HTTP status; 200 for an acknowledged envelope, 0 when nothing answered. */
  status: number;
  /** The acknowledgement's body (slash command answer, view_submission response_action). */
  body: Record<string, unknown> | undefined;
  /** Sends the very same request again (same body, same signature): a replay or a retry. */
  replay(options?: SignedRequestOptions & { retryNum?: number }): Promise<Delivery>;
}

export interface SlackEmulator extends SlackEmulatorServer {
  /** The bot's Request URL (its /slack/events); used while no Socket Mode client is connected. */
  setRequestUrl(url: string): void;
  /** Acts in the workspace as `user`. */
  as(user: string, name?: string): SlackUser;
  /** Compatibility with the skeleton's recorder: every message, every call. */
  readonly messages: SlackMessage[];
  readonly calls: RecordedCall[];
  thread(channel: string, ts: string): SlackMessage[];
  /** Calls answered 429. */
  rateLimited(): RecordedCall[];
}

export async function startSlackEmulator(
  options: SlackEmulatorOptions & { signingSecret: string },
): Promise<SlackEmulator> {
  const server = await startSlackEmulatorServer(options);
  const { workspace } = server;
  let requestUrl: string | undefined;

  async function deliver(
    type: EnvelopeType,
    raw: { body: string; contentType: string; payload: Record<string, unknown> },
    send: SignedRequestOptions & { retryNum?: number } = {},
  ): Promise<Delivery> {
    const replay = (again: SignedRequestOptions & { retryNum?: number } = {}) => deliver(type, raw, again);
    if (server.socket.connections > 0) {
      const ack = await server.socket.deliver(type, raw.payload, {
        ...(send.retryNum !== undefined ? { retryAttempt: send.retryNum, retryReason: "timeout" } : {}),
      });
      return { via: "socket", status: ack.acked ? 200 : 0, body: ack.payload, replay };
    }
    if (requestUrl === undefined)
      throw new Error("Slack emulator: call setRequestUrl(bot's /slack/events) first");
    const client = new SlackRequestClient(requestUrl, options.signingSecret);
    const headers = {
      ...send.headers,
      ...(send.retryNum !== undefined
        ? { "x-slack-retry-num": String(send.retryNum), "x-slack-retry-reason": "http_timeout" }
        : {}),
    };
    const res = await client.postRaw(raw.body, raw.contentType, { ...send, headers });
    let body: Record<string, unknown> | undefined;
    try {
      body = res.body === "" ? undefined : (JSON.parse(res.body) as Record<string, unknown>);
    } catch {
      body = { text: res.body };
    }
    return { via: "http", status: res.status, body, replay };
  }

  function as(user: string, name = user.toLowerCase()): SlackUser {
    return {
      id: user,
      async slash(command, text, opts) {
        const triggerId = workspace.issueTrigger(user);
        const responseUrl = workspace.issueResponseUrl(server.url, { channel: opts.channel, user });
        const body = slashCommandBody({
          command,
          text,
          team: workspace.team,
          channel: opts.channel,
          user,
          userName: name,
          triggerId,
          responseUrl,
        });
        const payload = Object.fromEntries(new URLSearchParams(body));
        const delivery = await deliver("slash_commands", { body, contentType: FORM, payload }, opts.send);
        showAck(opts.channel, user, delivery);
        return delivery;
      },
      async click(message, actionId, opts = {}) {
        const block = findButton(message, actionId);
        if (!block) throw new Error(`Slack emulator: no button ${actionId} on message ${message.ts}`);
        const triggerId = workspace.issueTrigger(user);
        const responseUrl = workspace.issueResponseUrl(server.url, {
          channel: message.channel,
          user,
          source: { channel: message.channel, ts: message.ts },
        });
        const payload = blockActionsPayload({
          team: workspace.team,
          user,
          userName: name,
          channel: message.channel,
          messageTs: message.ts,
          ephemeral: message.ephemeral === true,
          actionId,
          ...(block.value !== undefined ? { value: block.value } : {}),
          blockId: block.blockId,
          triggerId,
          responseUrl,
          message: { ts: message.ts, type: "message", text: message.text, blocks: message.blocks },
        });
        return deliver(
          "interactive",
          { body: interactiveBody(payload), contentType: FORM, payload },
          opts.send,
        );
      },
      async submit(view, values, opts = {}) {
        if (!view.open) throw new Error(`Slack emulator: view ${view.id} is closed`);
        const payload = viewSubmissionPayload({
          team: workspace.team,
          user,
          userName: name,
          triggerId: workspace.issueTrigger(user),
          view: view.view,
          viewId: view.id,
          hash: view.hash,
          values,
        });
        const delivery = await deliver(
          "interactive",
          { body: interactiveBody(payload), contentType: FORM, payload },
          opts.send,
        );
        const action = delivery.body?.response_action;
        if (delivery.status === 200 && action === "errors") {
          view.errors = (delivery.body?.errors ?? {}) as Record<string, string>;
        } else if (delivery.status === 200 && (action === undefined || action === "clear")) {
          view.open = false;
        }
        return delivery;
      },
      async mention(channel, text, opts = {}) {
        const message = workspace.post({
          channel,
          text,
          user,
          ...(opts.threadTs ? { threadTs: opts.threadTs } : {}),
        });
        const body = appMentionEvent({
          team: workspace.team,
          user,
          channel,
          text,
          ts: message.ts,
          ...(opts.threadTs ? { threadTs: opts.threadTs } : {}),
        });
        return deliver(
          "events_api",
          { body: JSON.stringify(body), contentType: JSON_TYPE, payload: body },
          opts.send,
        );
      },
      conversation(channel) {
        return workspace.conversation(channel, user);
      },
      openViews() {
        return [...workspace.views.values()].filter((v) => v.user === user && v.open);
      },
    };
  }

  /** Slack shows a slash command's acknowledgement to its sender (or to the channel, for in_channel). */
  function showAck(channel: string, user: string, delivery: Delivery): void {
    const body = delivery.body;
    if (delivery.status !== 200 || !body || (typeof body.text !== "string" && !Array.isArray(body.blocks)))
      return;
    const inChannel = body.response_type === "in_channel";
    workspace.post({
      channel,
      text: typeof body.text === "string" ? body.text : "",
      user: inChannel ? BOT_USER_ID : user,
      ...(Array.isArray(body.blocks) ? { blocks: body.blocks } : {}),
      ...(inChannel ? {} : { ephemeral: true, visibleTo: user }),
    });
  }

  return {
    ...server,
    setRequestUrl(url) {
      requestUrl = url;
    },
    as,
    messages: workspace.messages,
    calls: workspace.calls,
    thread: (channel, ts) => workspace.thread(channel, ts),
    rateLimited: () => workspace.calls.filter((c) => c.status === 429),
  };
}

function findButton(
  message: SlackMessage,
  actionId: string,
): { value?: string; blockId: string } | undefined {
  for (const block of (message.blocks ?? []) as Array<Record<string, unknown>>) {
    if (block.type !== "actions" || !Array.isArray(block.elements)) continue;
    for (const el of block.elements as Array<Record<string, unknown>>) {
      if (el.action_id === actionId) {
        return {
          blockId: String(block.block_id ?? "actions"),
          ...(typeof el.value === "string" ? { value: el.value } : {}),
        };
      }
    }
  }
  return undefined;
}

/** One person in the emulated workspace. */
export interface SlackUser {
  readonly id: string;
  slash(
    command: string,
    text: string,
    opts: { channel: string; send?: SignedRequestOptions & { retryNum?: number } },
  ): Promise<Delivery>;
  /** Presses a button of a message (ephemeral ones included), as this user. */
  click(message: SlackMessage, actionId: string, opts?: { send?: SignedRequestOptions }): Promise<Delivery>;
  /** Submits an open modal with values keyed by the inputs' action_id. */
  submit(
    view: SlackView,
    values: Record<string, string>,
    opts?: { send?: SignedRequestOptions },
  ): Promise<Delivery>;
  /** Writes a message that @mentions the bot (an app_mention event). */
  mention(
    channel: string,
    text: string,
    opts?: { threadTs?: string; send?: SignedRequestOptions & { retryNum?: number } },
  ): Promise<Delivery>;
  /** The channel as this user sees it (their ephemerals included). */
  conversation(channel: string): Array<SlackMessage & { replies: SlackMessage[] }>;
  openViews(): SlackView[];
}
