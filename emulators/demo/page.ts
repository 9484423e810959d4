import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { podinfoUiHtml } from "../kubernetes/podinfo-ui.ts";
import type { OtlpReceiver } from "../otlp/index.ts";
import type { SlackEmulator } from "../slack/index.ts";
import type { TeamsEmulator, TeamsMessage, TeamsPerson } from "../teams/index.ts";
import type { EmulatedCloud } from "../world.ts";
import { PodinfoForward } from "./podinfo.ts";
import { portalPage } from "./portal.ts";
import { lastLabCreate, waterfall } from "./trace.ts";

/**
 * The demo's channel page: static files (public/) and a small JSON API over
 * the Slack and Teams emulators. Everything the page does reaches the bot the
 * way Slack or Teams would send it (signed slash commands, block_actions,
 * view_submission; @mention messages and Action.Execute invokes). Beside
 * them: podinfo for each lab, as a port-forward would show it, the
 * emulated Azure portal's view of a resource, and (`/trace`) the last lab
 * create's trace as the bot exported it to the demo's OTLP receiver.
 */
export interface DemoPage {
  url: string;
  close(): Promise<void>;
}

export interface DemoPageOptions {
  slack: SlackEmulator;
  teams: TeamsEmulator;
  cloud: EmulatedCloud;
  channel: string;
  user: string;
  userName: string;
  teamsChannel: string;
  teamsUser: TeamsPerson;
  timeScale: number;
  port?: number;
  /** Where the bot exports its spans (OTLP), for the trace page. */
  traces?: OtlpReceiver;
}

const STATIC: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.css": { file: "app.css", type: "text/css; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/slack.js": { file: "slack.js", type: "text/javascript; charset=utf-8" },
  "/teams.js": { file: "teams.js", type: "text/javascript; charset=utf-8" },
  "/shared.js": { file: "shared.js", type: "text/javascript; charset=utf-8" },
  "/trace": { file: "trace.html", type: "text/html; charset=utf-8" },
  "/trace.js": { file: "trace.js", type: "text/javascript; charset=utf-8" },
  "/trace.css": { file: "trace.css", type: "text/css; charset=utf-8" },
  "/favicon.svg": { file: "favicon.svg", type: "image/svg+xml" },
  "/favicon.ico": { file: "favicon.svg", type: "image/svg+xml" },
};

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
  const { slack, teams, channel, teamsChannel } = options;
  const user = slack.as(options.user, options.userName);
  const teamsUser = teams.as(options.teamsUser);
  const files = new Map(
    Object.values(STATIC).map((s) => [s.file, readFileSync(new URL(`./public/${s.file}`, import.meta.url))]),
  );
  const podinfo = new PodinfoForward(options.cloud.kube);
  const findSlack = (ts: string) =>
    slack.workspace.messages.find((m) => m.ts === ts && m.channel === channel);
  const findTeams = (id: string): TeamsMessage | undefined => teams.tenant.find(teamsChannel, id);
  /**
   * The Teams channel as the demo user sees it: a toast only to whoever pressed
   * the button, and a card an invoke response replaced only for them.
   */
  const teamsView = () =>
    teams.tenant.conversation(teamsChannel).map((root) => {
      const me = options.teamsUser.aadObjectId;
      const mine = (m: TeamsMessage) => {
        const { views: _others, ...seen } = teams.tenant.seenBy(m, me);
        return { ...seen, toasts: m.toasts.filter((t) => t.to === me) };
      };
      return { ...mine(root), replies: root.replies.map(mine) };
    });

  const server: Server = createServer(async (req, res) => {
    const send = (status: number, payload: unknown, type = "application/json; charset=utf-8") => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(typeof payload === "string" || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload));
    };
    try {
      const url = new URL(req.url ?? "/", "http://x");
      const path = url.pathname;
      const file = STATIC[path];
      if (req.method === "GET" && file) return send(200, files.get(file.file), file.type);
      if (req.method === "GET" && path === "/api/state") {
        return send(200, {
          timeScale: options.timeScale,
          slack: {
            channel,
            user: { id: options.user, name: options.userName },
            messages: user.conversation(channel),
            views: user.openViews().map((v) => ({ id: v.id, view: v.view, errors: v.errors ?? {} })),
          },
          teams: {
            channel: teamsChannel,
            user: { id: options.teamsUser.aadObjectId, name: options.teamsUser.name },
            messages: teamsView(),
          },
          labs: podinfo.labs().map((name) => ({ name, podinfo: `/podinfo/${name}/` })),
        });
      }
      if (req.method === "GET" && path === "/api/trace") {
        const spans = options.traces?.spans() ?? [];
        const root = lastLabCreate(spans);
        return send(200, root ? { ...waterfall(root, spans), timeScale: options.timeScale } : {});
      }
      const pod = /^\/podinfo\/([a-z0-9-]+)\/(api\/info|api\/mounts)?$/.exec(path);
      if (req.method === "GET" && pod?.[1]) return await podinfoRoute(pod[1], pod[2], url, send);
      if (req.method === "GET" && path === "/portal") {
        return send(
          200,
          portalPage(options.cloud, url.searchParams.get("id") ?? ""),
          "text/html; charset=utf-8",
        );
      }
      if (req.method !== "POST") return send(404, { error: "not found" });
      return await post(path, await body(req), send);
    } catch (error) {
      return send(500, { error: error instanceof Error ? error.message : String(error) });
    }
  });

  async function podinfoRoute(
    lab: string,
    api: string | undefined,
    url: URL,
    send: (status: number, payload: unknown, type?: string) => void,
  ): Promise<void> {
    if (api === undefined) {
      const html = podinfoUiHtml({
        title: `podinfo · ${lab}`,
        subtitle: `Lab ${lab}'s podinfo, as kubectl port-forward deploy/podinfo-csi 9898 would show it (emulated). Its colour is the secret "color" (PODINFO_UI_COLOR): rotate it and watch the new pods bring the new colour.`,
      });
      return send(200, html, "text/html; charset=utf-8");
    }
    const answer =
      api === "api/info"
        ? await podinfo.info(lab)
        : await podinfo.mounts(lab, url.searchParams.get("pod") ?? "");
    return send(answer.status, answer.body);
  }

  async function post(
    path: string,
    input: Record<string, unknown>,
    send: (status: number, payload: unknown) => void,
  ): Promise<void> {
    switch (path) {
      case "/api/slack/command": {
        const text = String(input.text ?? "").trim();
        const match = /^\/(lab|secret|labops)\b\s*(.*)$/s.exec(text);
        if (!match)
          return send(400, {
            hint: "Slack hands labops only slash commands: start with /lab or /secret, e.g. /lab create team-a.",
          });
        const delivery = await user.slash(`/${match[1]}`, match[2] ?? "", { channel });
        return send(200, { status: delivery.status });
      }
      case "/api/slack/click": {
        const message = findSlack(String(input.ts ?? ""));
        if (!message) return send(404, { error: "no such message" });
        const delivery = await user.click(message, String(input.actionId ?? ""));
        return send(200, { status: delivery.status });
      }
      case "/api/slack/submit": {
        const view = user.openViews().find((v) => v.id === input.viewId);
        if (!view) return send(404, { error: "no such form" });
        const delivery = await user.submit(view, (input.values ?? {}) as Record<string, string>);
        return send(200, { status: delivery.status });
      }
      case "/api/slack/dismiss": {
        const view = user.openViews().find((v) => v.id === input.viewId);
        if (view) view.open = false;
        return send(200, {});
      }
      case "/api/teams/say": {
        const text = String(input.text ?? "").trim();
        const match = /^@labops\b\s*(.*)$/is.exec(text);
        if (!match?.[1])
          return send(400, {
            hint: "In a Teams channel labops hears only messages that @mention it: start with @labops, e.g. @labops lab create team-b.",
          });
        const delivery = await teamsUser.say(teamsChannel, match[1]);
        return send(200, { status: delivery.status });
      }
      case "/api/teams/execute": {
        const message = findTeams(String(input.id ?? ""));
        if (!message) return send(404, { error: "no such message" });
        const data = (input.data ?? {}) as Record<string, unknown>;
        const delivery = await teamsUser.execute(message, String(input.verb ?? ""), { data });
        return send(200, { status: delivery.status });
      }
      default:
        return send(404, { error: "not found" });
    }
  }

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
