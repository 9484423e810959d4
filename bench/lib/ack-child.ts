import { type ChildProcess, fork } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, Agent as HttpAgent, type RequestListener } from "node:http";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
import { type LoadTarget, type PreparedPost, timedPost } from "./load.ts";

/**
 * An app under an acknowledgement bench in a process of its own (a bot's web
 * role, lib/ack-world-child.ts or lib/teams-bot-child.ts, or a bare SDK app,
 * lib/bare-bolt-child.ts or lib/bare-cloudadapter-child.ts),
 * asked over IPC: `{ id, kind, … }` → `{ id, value }`; message 0 is its port
 * when it is ready. Its CPU is then its own: not the load generator's, which
 * in one process with the apps added the same 100 HTTP clients to both sides
 * (making ratios smaller) and its own work to every latency (making p99
 * larger), and not another app's garbage collection.
 */
export interface AckChild {
  name: string;
  port: number;
  ask<T>(kind: string, extra?: Record<string, unknown>): Promise<T>;
  child: ChildProcess;
}

export async function startAckChild(
  name: string,
  module: URL,
  env: Record<string, string> = {},
): Promise<AckChild> {
  const child = fork(module, [], {
    env: { ...process.env, BENCH_CHILD_NAME: name, ...env },
    execArgv: [...process.execArgv, "--expose-gc"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const waiting = new Map<number, (value: unknown) => void>();
  child.on("message", (m: { id: number; value: unknown }) => {
    waiting.get(m.id)?.(m.value);
    waiting.delete(m.id);
  });
  let next = 1;
  const ask = <T>(kind: string, extra: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      const id = next++;
      waiting.set(id, resolve as (value: unknown) => void);
      child.send({ id, kind, ...extra }, (error) => error && reject(error));
    });
  const ready = await new Promise<{ port: number }>((resolve, reject) => {
    waiting.set(0, resolve as (value: unknown) => void);
    child.once("exit", (code) => reject(new Error(`${name} exited (${code}) before it was ready`)));
  });
  return { name, port: ready.port, ask, child };
}

/** Builds round `round`'s `count` requests, named `tag`: a signer's ask, or the parent's own emulator. */
export type RoundSigner = (tag: string, round: number, count: number) => Promise<PreparedPost[]>;

/**
 * A load target served by `app` at `path` (Slack's `/slack/events` unless
 * given), its requests signed in `signer`: a bot's process, whose Slack
 * emulator issues the response URLs (the same process as `app` for a bot),
 * asked "prepare"; or a function, when the emulator that signs is this
 * process's (Teams, whose tokens the apps check against it). `concurrency`
 * requests per round, with the name `tag` in their lab names and channels.
 * CPU is `app`'s own. `preload` signs every round's requests before the
 * rounds: signed during them, the signer's garbage (the bot's, for every
 * target) would be collected in whichever app's round came next, and counted
 * as its work.
 */
export function childTarget(
  name: string,
  tag: string,
  app: AckChild,
  signer: AckChild | RoundSigner,
  concurrency: number,
  path = "/slack/events",
): LoadTarget & { agent: HttpAgent; preload(rounds: number): Promise<void> } {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: concurrency });
  const url = new URL(`http://127.0.0.1:${app.port}${path}`);
  const sign: RoundSigner =
    typeof signer === "function"
      ? signer
      : (t, round, count) => signer.ask<PreparedPost[]>("prepare", { tag: t, round, count });
  const prepared = new Map<number, Promise<PreparedPost[]>>();
  return {
    name,
    agent,
    prepare: async (round, i) => {
      let posts = prepared.get(round);
      if (!posts) {
        posts = sign(tag, round, concurrency);
        prepared.set(round, posts);
      }
      const post = (await posts)[i];
      if (!post) throw new Error(`no request ${i} of round ${round}`);
      return () => timedPost(agent, url, post);
    },
    cpuMicros: () => app.ask<number>("cpu"),
    async preload(rounds) {
      for (let round = 0; round < rounds; round += 1) {
        const posts = sign(tag, round, concurrency);
        prepared.set(round, posts);
        await posts;
      }
    },
  };
}

/**
 * Signs every round's requests of `targets`, then has each app collect its
 * garbage, so that the rounds measure serving alone.
 */
export async function preloadRounds(
  targets: readonly { preload(rounds: number): Promise<void> }[],
  apps: readonly AckChild[],
  rounds: number,
): Promise<void> {
  for (const target of targets) await target.preload(rounds);
  for (const app of apps) await app.ask("gc");
}

/** The process's CPU so far, in microseconds (what a child answers to "cpu"). */
export function cpuMicrosNow(): number {
  const used = process.cpuUsage();
  return used.user + used.system;
}

let gcMs = 0;
let watchingGc = false;
/** Milliseconds of garbage collection since the first call (a child calls it when it starts). */
export function gcMsSoFar(): number {
  if (!watchingGc) {
    watchingGc = true;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) gcMs += entry.duration;
    }).observe({ entryTypes: ["gc"] });
  }
  return gcMs;
}

/**
 * Each of `apps`' garbage collection from now on: the returned function gives
 * an app's milliseconds of it per request, over `requests`.
 */
export async function gcFromNow(
  apps: readonly AckChild[],
): Promise<(app: AckChild, requests: number) => Promise<number>> {
  const before = new Map<AckChild, number>();
  for (const app of apps) before.set(app, await app.ask<number>("gc_ms"));
  return async (app, requests) => {
    const ms = (await app.ask<number>("gc_ms")) - (before.get(app) ?? 0);
    return Math.round((ms / requests) * 1000) / 1000;
  };
}

/**
 * With BENCH_PROFILE_DIR set, a child samples its CPU (every 100 µs, as
 * `node --cpu-prof-interval 100`) from its "gc" ask (preloadRounds' last: the
 * rounds start) to "close", and writes `<dir>/<name>.cpuprofile`: the rounds
 * alone, not the start-up and warm-up a `--cpu-prof` of the whole process holds.
 */
function profiler(): { start(): Promise<void>; stop(): Promise<void> } | undefined {
  const dir = process.env.BENCH_PROFILE_DIR;
  if (!dir) return undefined;
  const session = new Session();
  let started = false;
  return {
    async start() {
      if (started) return;
      started = true;
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.setSamplingInterval", { interval: 100 });
      await session.post("Profiler.start");
    },
    async stop() {
      if (!started) return;
      const { profile } = await session.post("Profiler.stop");
      const name = (process.env.BENCH_CHILD_NAME ?? String(process.pid)).replace(/[^\w.-]+/g, "-");
      writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** An ask from the parent, as a child receives it. */
export type AckAsk = { id: number; kind: string } & Record<string, unknown>;

/**
 * The child's side of the IPC: answers "cpu", "gc" (collect garbage, then
 * the CPU so far) and "gc_ms" itself and every other ask with `answer`
 * ("close" included, after which it lets the channel go), then says it is
 * ready on `port`.
 */
export function serveAsks(port: number, answer: (ask: AckAsk) => Promise<unknown>): void {
  gcMsSoFar();
  const profile = profiler();
  process.on("message", (ask: AckAsk) => {
    let value: Promise<unknown>;
    if (ask.kind === "cpu") value = Promise.resolve(cpuMicrosNow());
    else if (ask.kind === "gc") {
      (globalThis as { gc?: () => void }).gc?.();
      value = (profile?.start() ?? Promise.resolve()).then(cpuMicrosNow);
    } else if (ask.kind === "gc_ms") value = Promise.resolve(gcMsSoFar());
    else if (ask.kind === "close" && profile) value = profile.stop().then(() => answer(ask));
    else value = answer(ask);
    void value.then((result) => {
      process.send?.({ id: ask.id, value: result });
      if (ask.kind === "close") process.disconnect?.();
    });
  });
  process.send?.({ id: 0, value: { port } });
}

/** A bare app's HTTP server on a free local port, answering the parent until "close" (lib/bare-*-child.ts). */
export async function serveBareApp(listener: RequestListener): Promise<void> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("bare app has no port");
  serveAsks(address.port, async (ask) => {
    if (ask.kind !== "close") throw new Error(`a bare app answers no "${ask.kind}"`);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    return null;
  });
}
