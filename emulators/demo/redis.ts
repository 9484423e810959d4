import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { connect, createServer } from "node:net";
import { Redis } from "ioredis";
import { track } from "./children.ts";

/** Resolves true when something at `url` answers PING with PONG. */
export function redisAnswers(url: string, timeoutMs = 1_500): Promise<boolean> {
  return new Promise((resolve) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      resolve(false);
      return;
    }
    const socket = connect(Number(parsed.port || 6379), parsed.hostname);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => done(String(d).startsWith("+PONG")));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface DemoRedis {
  url: string;
  /** "existing" when REDIS_URL answered; "private" when the demo started its own. */
  kind: "existing" | "private";
  /** The private redis-server's process. */
  pid?: number;
  stop(): Promise<void>;
}

export class RedisUnavailableError extends Error {
  readonly code = "redis_unavailable";
}

/**
 * The demo's Redis: REDIS_URL when it answers; else a private redis-server
 * from PATH on a free port, keeping nothing on disk; else a clear message
 * saying how to get one.
 */
export async function ensureRedis(url: string | undefined): Promise<DemoRedis> {
  const wanted = url ?? "redis://127.0.0.1:6379";
  if (await redisAnswers(wanted)) return { url: wanted, kind: "existing", stop: async () => undefined };
  const found = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (found.error || found.status !== 0) {
    throw new RedisUnavailableError(
      `No Redis answers at ${wanted}, and redis-server is not on PATH.\n` +
        "Install one (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), " +
        "or point REDIS_URL at a running Redis, then run npm run demo again.",
    );
  }
  const port = await freePort();
  const child: ChildProcess = track(
    spawn(
      "redis-server",
      [
        "--bind",
        "127.0.0.1",
        "--port",
        String(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "yes",
      ],
      { stdio: "ignore", detached: true },
    ),
  );
  const privateUrl = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await redisAnswers(privateUrl, 200)) {
      return {
        url: privateUrl,
        kind: "private",
        ...(child.pid !== undefined ? { pid: child.pid } : {}),
        stop: () =>
          new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
          }),
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  throw new RedisUnavailableError(
    `redis-server did not start on port ${port}; start one yourself and set REDIS_URL.`,
  );
}

/** Removes every key under `prefix:` (what one demo run wrote into a Redis it did not start). */
export async function dropKeys(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  redis.on("error", () => undefined);
  let removed = 0;
  try {
    await redis.connect();
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 })) {
      const batch = keys as string[];
      if (batch.length > 0) removed += await redis.unlink(...batch);
    }
  } finally {
    redis.disconnect();
  }
  return removed;
}
