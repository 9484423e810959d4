import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Express } from "express";
import type { Logger } from "../../src/log.ts";

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface WebServerOptions {
  logger: Logger;
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

export function createWebServer(options: WebServerOptions): WebServer {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", true);

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

  const server = createServer(app);
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
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
