import { createServer, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import type { Clock } from "../../src/clock.ts";
import { errorCode } from "../../src/errors.ts";
import type { Logger } from "../../src/log.ts";

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface WebServerOptions {
  logger: Logger;
  /** Times the shutdown: the sweep of idle connections and the deadline for busy ones. */
  clock: Clock;
  /** Each path is handed the raw request: no body parser runs before it (signatures need the raw body). */
  rawRoutes: Array<{ method: "POST"; path: string; listener: RequestListener }>;
  readiness: ReadinessCheck[];
  /** Mounts more routes (Teams, metrics, admin) on the express app. */
  extend?: (app: Express) => void;
}

export interface WebServer {
  server: Server;
  app: Express;
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, lets in-flight requests finish, closes idle keep-alive sockets. */
  close(): Promise<void>;
}

/**
 * On every answer, the raw chat routes' and the error handler's included: no
 * sniffing, no framing (old and new header), no referrer, and nothing cached
 * (every answer here is an API answer or an operator page).
 */
function secure(res: ServerResponse): void {
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Content-Security-Policy", "frame-ancestors 'none'");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("Cache-Control", "no-store");
}

/** How long in-flight requests get to finish once the server closes. */
const CLOSE_DEADLINE_MS = 15_000;

export function createWebServer(options: WebServerOptions): WebServer {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", true);
  // First, so every answer carries them (see secure).
  app.use((_req, res, next) => {
    secure(res);
    next();
  });

  // Reached through express only by a spelling of the path other than the exact one (see below).
  for (const route of options.rawRoutes) {
    app.post(route.path, (req, res) => {
      route.listener(req, res);
    });
  }

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  app.get("/readyz", async (_req, res) => {
    const results = await Promise.all(
      options.readiness.map(async (r) => {
        try {
          await r.check();
          return { name: r.name, ok: true };
        } catch {
          return { name: r.name, ok: false };
        }
      }),
    );
    const ok = results.every((r) => r.ok);
    res.status(ok ? 200 : 503).json({ status: ok ? "ready" : "not ready", checks: results });
  });

  options.extend?.(app);

  // No route: a short JSON 404 of ours, with the headers above (express's own page replaces them).
  app.use((_req, res) => {
    res.status(404).json({ error: "not found" });
  });

  // Last: express's own handler answers a body parser's refusal (too large, bad JSON, unknown
  // charset) with an HTML page holding the stack trace. Say what it is, in JSON, and no more.
  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const e = (typeof error === "object" && error !== null ? error : {}) as {
      status?: unknown;
      statusCode?: unknown;
      type?: unknown;
    };
    const raw = Number(e.status ?? e.statusCode);
    const status = Number.isInteger(raw) && raw >= 400 && raw < 600 ? raw : 500;
    const code = typeof e.type === "string" ? e.type : status < 500 ? "bad_request" : "internal";
    if (status < 500) options.logger.warn({ code, status }, "http.request_refused");
    else options.logger.error({ code, status }, "http.request_failed");
    res.status(status).json({ error: status < 500 ? code : "internal error" });
  });

  // A raw route at its exact path goes straight to its listener, with the same headers: express's
  // request and response setup and its router walk cost a Slack acknowledgement as much CPU as
  // Bolt's own HTTP receiver does (docs/PERFORMANCE.md). Everything else goes through express.
  const raw = new Map(options.rawRoutes.map((r) => [`${r.method} ${r.path}`, r.listener]));
  const server = createServer((req, res) => {
    const url = req.url ?? "";
    const query = url.indexOf("?");
    const listener = raw.get(`${req.method} ${query === -1 ? url : url.slice(0, query)}`);
    if (listener === undefined) {
      app(req, res);
      return;
    }
    secure(res);
    try {
      listener(req, res);
    } catch (error) {
      options.logger.error({ code: errorCode(error) }, "http.request_failed");
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  // Slack and Teams keep connections alive; bound how long an idle one lingers.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  return {
    server,
    app,
    listen(port, host = "0.0.0.0") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        // A connection busy when the signal came goes idle once its response is out: close it
        // then, rather than after the 65 s keep-alive, which would hold the process past its grace.
        const stopSweep = options.clock.interval(() => server.closeIdleConnections(), 100);
        // A client that never finishes its request does not hold the shutdown either.
        const cancelDeadline = options.clock.timeout(() => server.closeAllConnections(), CLOSE_DEADLINE_MS);
        server.close(() => {
          stopSweep();
          cancelDeadline();
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
