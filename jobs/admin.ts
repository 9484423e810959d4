import { timingSafeEqual } from "node:crypto";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import { Queue } from "bullmq";
import type { Express, NextFunction, Request, Response } from "express";
import type { Redis } from "ioredis";
import { COMMANDS_QUEUE } from "./queue.ts";
import { SCHEDULES_QUEUE } from "./scheduler.ts";

export const ADMIN_PATH = "/admin/queues";

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Bearer token, or HTTP basic auth with the token as password (so a browser can open the page). */
export function adminGuard(token: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization ?? "";
    let given = "";
    if (header.startsWith("Bearer ")) given = header.slice(7);
    else if (header.startsWith("Basic ")) {
      const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
      given = decoded.slice(decoded.indexOf(":") + 1);
    }
    if (given !== "" && sameSecret(given, token)) return next();
    res.setHeader("www-authenticate", 'Basic realm="labops operators", charset="UTF-8"');
    res
      .status(401)
      .json({ error: "Give LABOPS_ADMIN_TOKEN as a bearer token, or as the password of basic auth." });
  };
}

/** Bull Board's own read-only mode covers its queue actions; this also refuses the board-wide ones. */
function readOnly(req: Request, res: Response, next: NextFunction) {
  if (req.method === "GET" || req.method === "HEAD") return next();
  res.setHeader("allow", "GET, HEAD");
  res.status(405).json({ error: "The queue dashboard is read-only." });
}

export interface QueueDashboard {
  /** Job counts by queue and state, for the metrics gauge. */
  counts(): Promise<Array<{ queue: string; state: string; count: number }>>;
  close(): Promise<void>;
}

/**
 * Bull Board for operators at /admin/queues, behind LABOPS_ADMIN_TOKEN, read-only.
 * Without a token the page is not mounted at all; the queues are still
 * sampled for /metrics.
 */
export function mountQueueDashboard(
  app: Express | undefined,
  options: { connection: Redis; prefix: string; token: string | undefined; queueName?: string },
): QueueDashboard {
  const queues = [options.queueName ?? COMMANDS_QUEUE, SCHEDULES_QUEUE].map((name) => {
    const q = new Queue(name, { connection: options.connection, prefix: options.prefix });
    q.on("error", () => undefined);
    return q;
  });
  if (app && options.token) {
    const adapter = new ExpressAdapter();
    adapter.setBasePath(ADMIN_PATH);
    // Read-only: operators look, they do not retry, clean, remove, add or pause jobs from a
    // browser (a retried destroy or a removed expiry is a command nobody typed or audited).
    createBullBoard({
      queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
      serverAdapter: adapter,
    });
    // The board is an express app of its own, which would announce itself: it must not.
    const board: Express = adapter.getRouter();
    board.disable("x-powered-by");
    app.use(ADMIN_PATH, adminGuard(options.token), readOnly, board);
  }
  return {
    async counts() {
      const out: Array<{ queue: string; state: string; count: number }> = [];
      for (const q of queues) {
        const counts = await q.getJobCounts("waiting", "active", "delayed", "failed", "completed");
        for (const [state, count] of Object.entries(counts)) out.push({ queue: q.name, state, count });
      }
      return out;
    },
    async close() {
      await Promise.all(queues.map((q) => q.close()));
    },
  };
}
