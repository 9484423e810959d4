import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { waitFor } from "./env.ts";
import { exitOf } from "./processes.ts";

/**
 * A redis-server of the test's own, on a free port, persisting every write
 * (appendonly, fsync always) in a temporary directory, so it can be crashed
 * and restarted with what it acknowledged.
 */
export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** SIGKILL: a crash, not a shutdown; nothing is saved beyond the append-only file. */
  crash(): Promise<void>;
  /** Starts it again on the same port and data directory; resolves once it answers PING. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = await mkdtemp(join(tmpdir(), "labops-redis-"));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  const output: string[] = [];

  const start = async () => {
    proc = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    proc.stdout?.on("data", (d: Buffer) => output.push(d.toString()));
    proc.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => undefined);
    try {
      await waitFor(
        async () => {
          if (proc?.exitCode !== null) throw new Error(`redis-server exited: ${output.join("")}`);
          try {
            if (probe.status !== "ready") await probe.connect();
            return (await probe.ping()) === "PONG" ? true : undefined;
          } catch {
            probe.disconnect();
            return undefined;
          }
        },
        `redis-server on port ${port}`,
        10_000,
        50,
      );
    } finally {
      probe.disconnect();
    }
  };

  const crash = async () => {
    if (!proc) return;
    const exited = exitOf(proc);
    proc.kill("SIGKILL");
    await exited;
    proc = undefined;
  };

  await start();
  return {
    url,
    port,
    crash,
    restart: start,
    async stop() {
      await crash();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
