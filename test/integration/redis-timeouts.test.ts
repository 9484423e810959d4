import { createServer, type Server, type Socket } from "node:net";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { patientTimeouts } from "../../jobs/connection.ts";
import { REDIS_URL } from "../helpers/env.ts";

/** Holds the event loop, as a long GC or a starved process does. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: nothing else in this process runs
  }
}

describe("command timeouts (jobs/connection.ts patientTimeouts)", () => {
  const opened: Redis[] = [];
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  /** A server that accepts and reads, and never answers; its port. */
  async function silentServer(): Promise<number> {
    const silent = createServer((socket) => {
      sockets.push(socket);
      socket.on("data", () => undefined);
    });
    servers.push(silent);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    return address.port;
  }
  afterAll(async () => {
    for (const r of opened) r.disconnect();
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it("keeps a reply that arrived while the event loop was held up past the timeout", async () => {
    const redis = patientTimeouts(new Redis(REDIS_URL, { enableAutoPipelining: true }), 100);
    opened.push(redis);
    await redis.ping();
    const replies = Array.from({ length: 5 }, (_, i) => redis.get(`labops-timeouts-nothing-${i}`));
    // The commands go out (ioredis's auto-pipeline writes on setImmediate); Redis answers at once.
    await new Promise((resolve) => setImmediate(resolve));
    stall(300);
    expect(await Promise.all(replies)).toEqual([null, null, null, null, null]);
  });

  it("times each command from its own send, with one timer for the connection", async () => {
    const redis = patientTimeouts(new Redis(REDIS_URL), 100);
    opened.push(redis);
    await redis.ping();
    const timed = async (send: () => Promise<unknown>) => {
      const sent = performance.now();
      const error = await send().then(
        () => undefined,
        (e: unknown) => e,
      );
      return { error, waited: performance.now() - sent };
    };
    // Redis holds a blocking pop for 0.5 s, and what the connection sends after it waits behind it.
    const first = timed(() => redis.blpop("labops-timeouts-empty", 0.5));
    await new Promise((resolve) => setTimeout(resolve, 60));
    // Sent while the first waits: not timed out with the first, but 100 ms after its own send.
    const second = timed(() => redis.get("labops-timeouts-nothing"));
    for (const { error, waited } of [await first, await second]) {
      expect(String(error)).toMatch(/Command timed out/);
      expect(waited).toBeGreaterThanOrEqual(90);
    }
  });

  it("still times out a command that gets no answer", async () => {
    const port = await silentServer();
    const redis = patientTimeouts(
      new Redis({ host: "127.0.0.1", port, enableReadyCheck: false, maxRetriesPerRequest: 0 }),
      100,
    );
    redis.on("error", () => undefined);
    opened.push(redis);
    const started = performance.now();
    await expect(redis.get("anything")).rejects.toThrow(/Command timed out/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
  });
});
