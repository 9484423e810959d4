import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type LimitRule, retryAfterSeconds, ServerRateLimits } from "../shared/limits.ts";
import { blocksProblem, viewProblem } from "./blocks.ts";
import { SocketModeServer } from "./socket-mode.ts";

/**
 * An emulated Slack workspace: the Web API subset the bot uses, the
 * response_url endpoint, modal views, Socket Mode, and the workspace as its
 * users see it. The bot is unchanged in front of it (SLACK_API_URL points
 * here); the other direction (Slack calling the bot) is SlackUser, which
 * signs and shapes requests exactly as Slack does.
 *
 * Limits (docs.slack.dev/apis/web-api/rate-limits and each method's page),
 * per app per workspace, answered with HTTP 429 + Retry-After (seconds):
 * - chat.postMessage: 1 per second per channel with short bursts (a bucket of
 *   3), and "several hundred per minute" per workspace (300);
 * - Tier 1 (apps.connections.open) 1+/min with a small burst (5/min here);
 *   Tier 3 (chat.update, conversations.replies) 50/min;
 *   Tier 4 (chat.postEphemeral, views.open, auth.test) 100/min.
 * A trigger_id is good for 3 seconds and one views.open; a response_url for
 * 5 uses within 30 minutes.
 */

export interface SlackMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text: string;
  blocks?: unknown[];
  /**
   * Who wrote it (the bot's user id, or the human); for an ephemeral message,
   * as in the skeleton's recorder, the one user who sees it (also `visibleTo`).
   */
  user?: string;
  /** Ephemeral messages are seen only by `visibleTo`, and always come from the bot. */
  ephemeral?: boolean;
  visibleTo?: string;
  edits: number;
  deleted?: boolean;
}

export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
  /** HTTP status the emulator answered (429 when rate limited). */
  status: number;
  error?: string;
}

export interface SlackView {
  id: string;
  user: string;
  triggerId: string;
  view: Record<string, unknown>;
  hash: string;
  open: boolean;
  /** Errors shown under inputs after a refused submission. */
  errors?: Record<string, string>;
}

export interface SlackEmulatorOptions {
  botToken: string;
  /** Signs requests to the bot. */
  signingSecret?: string;
  /** App-level token (xapp-…) that may open Socket Mode connections. */
  appToken?: string;
  team?: string;
  /** Divides the rate-limit windows (LABOPS_TIME_SCALE of a test or demo). */
  timeScale?: number;
  /** Off only for tests that need raw behaviour. */
  rateLimits?: boolean;
  port?: number;
  host?: string;
}

const TIER: Record<1 | 3 | 4, LimitRule> = {
  1: { kind: "windows", windows: [{ windowMs: 60_000, max: 5 }] },
  3: { kind: "windows", windows: [{ windowMs: 60_000, max: 50 }] },
  4: { kind: "windows", windows: [{ windowMs: 60_000, max: 100 }] },
};
const METHOD_TIER: Record<string, 1 | 3 | 4> = {
  "apps.connections.open": 1,
  "chat.update": 3,
  "conversations.replies": 3,
  "chat.postEphemeral": 4,
  "views.open": 4,
  "auth.test": 4,
};
const CHANNEL_POSTS: LimitRule = { kind: "bucket", perSecond: 1, burst: 3 };
const WORKSPACE_POSTS: LimitRule = { kind: "windows", windows: [{ windowMs: 60_000, max: 300 }] };

const TRIGGER_TTL_MS = 3_000;
const RESPONSE_URL_TTL_MS = 30 * 60_000;
const RESPONSE_URL_USES = 5;

const JSON_ARGS = new Set(["blocks", "attachments", "view", "metadata"]);

export const BOT_USER_ID = "U0BOT";
export const BOT_ID = "B0BOT";
export const APP_ID = "A0LABOPS";

interface ResponseUrl {
  channel: string;
  user: string;
  uses: number;
  issuedAt: number;
  /** The message whose button was pressed: replace_original and delete_original act on it. */
  source?: { channel: string; ts: string };
}

async function readRaw(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseArgs(raw: string, contentType: string): Record<string, unknown> {
  if (contentType.includes("application/json"))
    return raw === "" ? {} : (JSON.parse(raw) as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    // The Web API client form-encodes nested values as JSON strings.
    out[k] = JSON_ARGS.has(k) && /^[[{]/.test(v) ? JSON.parse(v) : v;
  }
  return out;
}

export class SlackWorkspace {
  readonly team: string;
  readonly messages: SlackMessage[] = [];
  readonly views = new Map<string, SlackView>();
  readonly calls: RecordedCall[] = [];
  readonly limits: ServerRateLimits;
  readonly #triggers = new Map<string, { issuedAt: number; used: boolean; user: string }>();
  readonly #responseUrls = new Map<string, ResponseUrl>();
  #seq = 0;

  constructor(team: string, limits: ServerRateLimits) {
    this.team = team;
    this.limits = limits;
  }

  nextTs(): string {
    this.#seq += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.#seq).padStart(6, "0")}`;
  }

  issueTrigger(user: string): string {
    const id = `${Date.now()}.${randomBytes(4).readUInt32BE()}.${randomBytes(16).toString("hex")}`;
    this.#triggers.set(id, { issuedAt: Date.now(), used: false, user });
    return id;
  }

  /** Exchanges a trigger for a modal, once, within 3 seconds. */
  useTrigger(id: string): "ok" | "invalid_trigger_id" | "expired_trigger_id" | "exchanged_trigger_id" {
    const t = this.#triggers.get(id);
    if (!t) return "invalid_trigger_id";
    if (t.used) return "exchanged_trigger_id";
    if (Date.now() - t.issuedAt > TRIGGER_TTL_MS) return "expired_trigger_id";
    t.used = true;
    return "ok";
  }

  triggerUser(id: string): string | undefined {
    return this.#triggers.get(id)?.user;
  }

  issueResponseUrl(base: string, info: Omit<ResponseUrl, "uses" | "issuedAt">): string {
    const id = randomBytes(12).toString("hex");
    this.#responseUrls.set(id, { ...info, uses: 0, issuedAt: Date.now() });
    return `${base}/hooks/respond/${this.team}/${id}`;
  }

  responseUrl(id: string): ResponseUrl | undefined {
    return this.#responseUrls.get(id);
  }

  post(message: Omit<SlackMessage, "ts" | "edits">): SlackMessage {
    const m: SlackMessage = { ...message, ts: this.nextTs(), edits: 0 };
    this.messages.push(m);
    return m;
  }

  find(channel: string, ts: string): SlackMessage | undefined {
    return this.messages.find((m) => m.channel === channel && m.ts === ts && !m.deleted);
  }

  thread(channel: string, ts: string): SlackMessage[] {
    return this.messages.filter(
      (m) => m.channel === channel && !m.deleted && (m.ts === ts || m.threadTs === ts),
    );
  }

  /** The channel as `viewer` sees it: top-level messages oldest first, each with its replies. */
  conversation(channel: string, viewer?: string): Array<SlackMessage & { replies: SlackMessage[] }> {
    const visible = this.messages.filter(
      (m) =>
        m.channel === channel &&
        !m.deleted &&
        (!m.ephemeral || (viewer !== undefined && m.visibleTo === viewer)),
    );
    return visible
      .filter((m) => m.threadTs === undefined)
      .map((root) => ({ ...root, replies: visible.filter((m) => m.threadTs === root.ts) }));
  }
}

export interface SlackEmulatorServer {
  readonly url: string;
  /** SLACK_API_URL. */
  readonly apiUrl: string;
  readonly workspace: SlackWorkspace;
  readonly socket: SocketModeServer;
  /** Everything needed to point `npm start` at this emulator. */
  env(): Record<string, string>;
  close(): Promise<void>;
}

export async function startSlackEmulatorServer(options: SlackEmulatorOptions): Promise<SlackEmulatorServer> {
  const limits = new ServerRateLimits({ timeScale: options.timeScale ?? 1 });
  const workspace = new SlackWorkspace(options.team ?? "T0001", limits);
  const rateLimits = options.rateLimits ?? true;
  let base = "";
  const socket = new SocketModeServer();

  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      const api = /^\/api\/([a-zA-Z.]+)$/.exec(path);
      if (api?.[1] && req.method === "POST") return await webApi(api[1], req, res, send);
      const hook = /^\/hooks\/respond\/([^/]+)\/([0-9a-f]+)$/.exec(path);
      if (hook?.[2] && req.method === "POST") return await respond(hook[2], req, send);
      const state = /^\/_emulator\/conversations\/([^/]+)$/.exec(path);
      if (state?.[1] && req.method === "GET") {
        const viewer = new URL(req.url ?? "/", "http://x").searchParams.get("user") ?? undefined;
        return send(200, { channel: state[1], messages: workspace.conversation(state[1], viewer) });
      }
      return send(404, { ok: false, error: "unknown_method" });
    } catch (error) {
      return send(500, { ok: false, error: "internal_error", detail: String(error) });
    }
  });

  async function webApi(
    method: string,
    req: IncomingMessage,
    _res: ServerResponse,
    send: (status: number, body: unknown, headers?: Record<string, string>) => void,
  ): Promise<void> {
    let args: Record<string, unknown>;
    try {
      args = parseArgs(await readRaw(req), req.headers["content-type"] ?? "");
    } catch {
      return send(200, { ok: false, error: "invalid_json" });
    }
    const auth = req.headers.authorization ?? (typeof args.token === "string" ? `Bearer ${args.token}` : "");
    const call: RecordedCall = { method, args, at: Date.now(), status: 200 };
    const answer = (body: Record<string, unknown>) => {
      if (body.ok === false) call.error = String(body.error);
      workspace.calls.push(call);
      send(200, body);
    };
    const wantsAppToken = method === "apps.connections.open";
    const expected = wantsAppToken ? options.appToken : options.botToken;
    if (expected === undefined || auth !== `Bearer ${expected}`) {
      return answer({ ok: false, error: wantsAppToken ? "not_allowed_token_type" : "invalid_auth" });
    }
    if (rateLimits) {
      const channel = typeof args.channel === "string" ? args.channel : "";
      const checks: Array<{ key: string; rule: LimitRule }> =
        method === "chat.postMessage"
          ? [
              { key: `post:${channel}`, rule: CHANNEL_POSTS },
              { key: "chat.postMessage", rule: WORKSPACE_POSTS },
            ]
          : [{ key: method, rule: TIER[METHOD_TIER[method] ?? 4] }];
      const verdict = limits.take(checks);
      if (!verdict.ok) {
        call.status = 429;
        call.error = "ratelimited";
        workspace.calls.push(call);
        return send(
          429,
          { ok: false, error: "ratelimited" },
          { "retry-after": String(retryAfterSeconds(verdict.retryAfterMs)) },
        );
      }
    }
    const channel = String(args.channel ?? "");
    switch (method) {
      case "auth.test":
        return answer({
          ok: true,
          url: `https://${workspace.team.toLowerCase()}.slack.invalid/`,
          team: "labops",
          user: "labops",
          team_id: workspace.team,
          user_id: BOT_USER_ID,
          bot_id: BOT_ID,
        });
      case "apps.connections.open":
        return answer({ ok: true, url: socket.ticketUrl(base.replace(/^http/, "ws")) });
      case "chat.postMessage": {
        if (!channel) return answer({ ok: false, error: "channel_not_found" });
        const content = messageContent(args);
        if ("error" in content) return answer({ ok: false, error: content.error });
        let threadTs: string | undefined;
        if (typeof args.thread_ts === "string" && args.thread_ts !== "") {
          const parent = workspace.find(channel, args.thread_ts);
          // Slack threads hang off a top-level message; replying to a reply lands in its thread.
          threadTs = parent?.threadTs ?? parent?.ts;
          if (threadTs === undefined) return answer({ ok: false, error: "thread_not_found" });
        }
        const m = workspace.post({
          channel,
          text: content.text,
          user: BOT_USER_ID,
          ...(content.blocks ? { blocks: content.blocks } : {}),
          ...(threadTs ? { threadTs } : {}),
        });
        return answer({
          ok: true,
          channel,
          ts: m.ts,
          message: { type: "message", text: m.text, ts: m.ts, bot_id: BOT_ID },
        });
      }
      case "chat.update": {
        const found = workspace.find(channel, String(args.ts ?? ""));
        if (!found) return answer({ ok: false, error: "message_not_found" });
        if (found.ephemeral || found.user !== BOT_USER_ID)
          return answer({ ok: false, error: "cant_update_message" });
        const content = messageContent(args);
        if ("error" in content) return answer({ ok: false, error: content.error });
        found.text = content.text;
        if (content.blocks) found.blocks = content.blocks;
        found.edits += 1;
        return answer({ ok: true, channel, ts: found.ts, text: found.text });
      }
      case "chat.postEphemeral": {
        const user = String(args.user ?? "");
        if (!channel) return answer({ ok: false, error: "channel_not_found" });
        if (!user) return answer({ ok: false, error: "user_not_found" });
        const content = messageContent(args);
        if ("error" in content) return answer({ ok: false, error: content.error });
        const m = workspace.post({
          channel,
          text: content.text,
          user,
          ephemeral: true,
          visibleTo: user,
          ...(content.blocks ? { blocks: content.blocks } : {}),
          ...(typeof args.thread_ts === "string" ? { threadTs: args.thread_ts } : {}),
        });
        return answer({ ok: true, message_ts: m.ts });
      }
      case "views.open": {
        const trigger = String(args.trigger_id ?? "");
        const used = workspace.useTrigger(trigger);
        if (used !== "ok") return answer({ ok: false, error: used });
        const problem = viewProblem(args.view);
        if (problem)
          return answer({
            ok: false,
            error: "invalid_arguments",
            response_metadata: { messages: [problem] },
          });
        const id = `V${randomBytes(5).toString("hex").toUpperCase()}`;
        const view: SlackView = {
          id,
          user: workspace.triggerUser(trigger) ?? "",
          triggerId: trigger,
          view: args.view as Record<string, unknown>,
          hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString("hex")}`,
          open: true,
        };
        workspace.views.set(id, view);
        return answer({
          ok: true,
          view: { ...view.view, id, hash: view.hash, team_id: workspace.team, app_id: APP_ID },
        });
      }
      case "conversations.replies": {
        const thread = workspace.thread(channel, String(args.ts ?? "")).filter((m) => !m.ephemeral);
        if (thread.length === 0) return answer({ ok: false, error: "thread_not_found" });
        return answer({
          ok: true,
          messages: thread.map((m) => ({
            type: "message",
            ts: m.ts,
            thread_ts: m.threadTs ?? m.ts,
            text: m.text,
            user: m.user,
            blocks: m.blocks,
          })),
        });
      }
      default:
        return answer({ ok: false, error: "unknown_method" });
    }
  }

  async function respond(
    id: string,
    req: IncomingMessage,
    send: (status: number, body: unknown, headers?: Record<string, string>) => void,
  ): Promise<void> {
    const hook = workspace.responseUrl(id);
    if (!hook) return send(404, { ok: false, error: "invalid_url" });
    if (Date.now() - hook.issuedAt > RESPONSE_URL_TTL_MS)
      return send(404, { ok: false, error: "expired_url" });
    if (hook.uses >= RESPONSE_URL_USES) return send(404, { ok: false, error: "used_url" });
    hook.uses += 1;
    let body: Record<string, unknown>;
    try {
      body = parseArgs(await readRaw(req), "application/json");
    } catch {
      return send(400, { ok: false, error: "invalid_json" });
    }
    const source = hook.source ? workspace.find(hook.source.channel, hook.source.ts) : undefined;
    if (body.delete_original === true || body.delete_original === "true") {
      if (source) source.deleted = true;
      return send(200, { ok: true });
    }
    const content = messageContent(body);
    if ("error" in content) return send(400, { ok: false, error: content.error });
    if ((body.replace_original === true || body.replace_original === "true") && source) {
      source.text = content.text;
      if (content.blocks) source.blocks = content.blocks;
      else delete source.blocks;
      source.edits += 1;
      return send(200, { ok: true });
    }
    const inChannel = body.response_type === "in_channel";
    workspace.post({
      channel: hook.channel,
      text: content.text,
      user: inChannel ? BOT_USER_ID : hook.user,
      ...(content.blocks ? { blocks: content.blocks } : {}),
      ...(inChannel ? {} : { ephemeral: true, visibleTo: hook.user }),
      ...(typeof body.thread_ts === "string" ? { threadTs: body.thread_ts } : {}),
    });
    return send(200, { ok: true });
  }

  server.on("upgrade", (req, sock, head) => socket.handleUpgrade(req, sock, head));
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve),
  );
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;

  return {
    url: base,
    apiUrl: `${base}/api/`,
    workspace,
    socket,
    env() {
      return {
        SLACK_API_URL: `${base}/api/`,
        SLACK_BOT_TOKEN: options.botToken,
        ...(options.signingSecret ? { SLACK_SIGNING_SECRET: options.signingSecret } : {}),
        ...(options.appToken ? { SLACK_APP_TOKEN: options.appToken } : {}),
      };
    },
    async close() {
      await socket.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** text and blocks of a message, as chat.postMessage and response_url accept them. */
export function messageContent(
  args: Record<string, unknown>,
): { text: string; blocks?: unknown[] } | { error: string } {
  const text = typeof args.text === "string" ? args.text : "";
  const blocks = args.blocks;
  if (blocks !== undefined) {
    const problem = blocksProblem(blocks);
    if (problem) return { error: "invalid_blocks" };
  }
  if (text === "" && (blocks === undefined || (Array.isArray(blocks) && blocks.length === 0)))
    return { error: "no_text" };
  if (text.length > 40_000) return { error: "msg_too_long" };
  return blocks === undefined ? { text } : { text, blocks: blocks as unknown[] };
}
