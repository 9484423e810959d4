import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * The subset of Slack's Web API the bot uses, recording every call. Messages
 * are kept per channel with Slack's ts ids so tests (and the demo page) can
 * read threads as a user would see them.
 */

export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
}

export interface SlackMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text: string;
  blocks?: unknown[];
  user?: string;
  ephemeral?: boolean;
  edits: number;
}

export interface SlackWebApiEmulator {
  /** Base URL for SLACK_API_URL, ending in "/api/". */
  readonly url: string;
  readonly calls: RecordedCall[];
  readonly messages: SlackMessage[];
  thread(channel: string, ts: string): SlackMessage[];
  close(): Promise<void>;
}

export interface SlackWebApiOptions {
  botToken: string;
  port?: number;
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString("utf8");
  const type = req.headers["content-type"] ?? "";
  if (type.includes("application/json"))
    return raw === "" ? {} : (JSON.parse(raw) as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    // The Web API client form-encodes nested values as JSON strings.
    out[k] = (k === "blocks" || k === "view") && v.startsWith("[") ? JSON.parse(v) : v;
  }
  return out;
}

export async function startSlackWebApi(options: SlackWebApiOptions): Promise<SlackWebApiEmulator> {
  const calls: RecordedCall[] = [];
  const messages: SlackMessage[] = [];
  let seq = 0;
  const nextTs = () => {
    seq += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(seq).padStart(6, "0")}`;
  };

  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      res.end(JSON.stringify(body));
    };
    const match = /^\/api\/([a-zA-Z.]+)$/.exec(new URL(req.url ?? "/", "http://x").pathname);
    if (!match?.[1]) return send(404, { ok: false, error: "unknown_method" });
    const method = match[1];
    let args: Record<string, unknown>;
    try {
      args = await readBody(req);
    } catch {
      return send(200, { ok: false, error: "invalid_json" });
    }
    const auth = req.headers.authorization ?? (typeof args.token === "string" ? `Bearer ${args.token}` : "");
    if (auth !== `Bearer ${options.botToken}`) return send(200, { ok: false, error: "invalid_auth" });
    calls.push({ method, args, at: Date.now() });
    const channel = String(args.channel ?? "");
    switch (method) {
      case "auth.test":
        return send(200, {
          ok: true,
          url: "https://labops-demo.slack.invalid/",
          team: "labops",
          user: "labops",
          team_id: "T0001",
          user_id: "U0BOT",
          bot_id: "B0BOT",
        });
      case "chat.postMessage": {
        if (!channel) return send(200, { ok: false, error: "channel_not_found" });
        const ts = nextTs();
        const message: SlackMessage = { channel, ts, text: String(args.text ?? ""), user: "U0BOT", edits: 0 };
        if (typeof args.thread_ts === "string") message.threadTs = args.thread_ts;
        if (Array.isArray(args.blocks)) message.blocks = args.blocks;
        messages.push(message);
        return send(200, { ok: true, channel, ts, message: { text: message.text, ts } });
      }
      case "chat.update": {
        const found = messages.find((m) => m.channel === channel && m.ts === args.ts);
        if (!found) return send(200, { ok: false, error: "message_not_found" });
        found.text = String(args.text ?? found.text);
        if (Array.isArray(args.blocks)) found.blocks = args.blocks;
        found.edits += 1;
        return send(200, { ok: true, channel, ts: found.ts, text: found.text });
      }
      case "chat.postEphemeral": {
        const ts = nextTs();
        messages.push({
          channel,
          ts,
          text: String(args.text ?? ""),
          user: String(args.user ?? ""),
          ephemeral: true,
          edits: 0,
        });
        return send(200, { ok: true, message_ts: ts });
      }
      default:
        return send(200, { ok: false, error: "unknown_method" });
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/`,
    calls,
    messages,
    thread: (ch, ts) => messages.filter((m) => m.channel === ch && (m.ts === ts || m.threadTs === ts)),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
