import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { SlackEmulator } from "../slack/index.ts";

/**
 * The demo's Slack-like channel page: a static page plus a small JSON API
 * over the Slack emulator. Everything the page does goes to the bot the way
 * Slack would send it (signed slash commands, block_actions, view_submission).
 */
export interface DemoPage {
  url: string;
  close(): Promise<void>;
}

export interface DemoPageOptions {
  slack: SlackEmulator;
  channel: string;
  user: string;
  userName: string;
  port?: number;
}

const PAGE = new URL("./page.html", import.meta.url);

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error("request too large");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
}

export async function startDemoPage(options: DemoPageOptions): Promise<DemoPage> {
  const { slack, channel } = options;
  const user = slack.as(options.user, options.userName);
  const html = readFileSync(PAGE, "utf8");
  const findMessage = (ts: string) =>
    slack.workspace.messages.find((m) => m.ts === ts && m.channel === channel);

  const server: Server = createServer(async (req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, {
        "content-type": "application/json; charset=utf-8",
        "cache-control": "no-store",
      });
      res.end(JSON.stringify(payload));
    };
    try {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (req.method === "GET" && (path === "/" || path === "/index.html")) {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
        res.end(html);
        return;
      }
      if (req.method === "GET" && path === "/api/state") {
        return send(200, {
          channel,
          user: { id: options.user, name: options.userName },
          messages: user.conversation(channel),
          views: user.openViews().map((v) => ({ id: v.id, view: v.view, errors: v.errors ?? {} })),
        });
      }
      if (req.method !== "POST") return send(404, { error: "not found" });
      const input = await body(req);
      if (path === "/api/command") {
        const text = String(input.text ?? "").trim();
        const match = /^\/(lab|secret|labops)\b\s*(.*)$/s.exec(text);
        if (!match) return send(400, { error: "Type a slash command: /lab … or /secret …" });
        const delivery = await user.slash(`/${match[1]}`, match[2] ?? "", { channel });
        return send(200, { status: delivery.status });
      }
      if (path === "/api/click") {
        const message = findMessage(String(input.ts ?? ""));
        if (!message) return send(404, { error: "no such message" });
        const delivery = await user.click(message, String(input.actionId ?? ""));
        return send(200, { status: delivery.status });
      }
      if (path === "/api/submit") {
        const view = user.openViews().find((v) => v.id === input.viewId);
        if (!view) return send(404, { error: "no such form" });
        const values = (input.values ?? {}) as Record<string, string>;
        const delivery = await user.submit(view, values);
        return send(200, { status: delivery.status });
      }
      if (path === "/api/dismiss") {
        const view = user.openViews().find((v) => v.id === input.viewId);
        if (view) view.open = false;
        return send(200, {});
      }
      return send(404, { error: "not found" });
    } catch (error) {
      return send(500, { error: error instanceof Error ? error.message : String(error) });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
