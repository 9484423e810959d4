import { type ChildProcess, spawn } from "node:child_process";
import type { Writable } from "node:stream";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { expect } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { type Running, startLabops } from "../../app/main.ts";
import { RESOURCE_TYPES } from "../../emulators/azure/index.ts";
import { SlackRequestClient, type SlashCommandInput } from "../../emulators/slack/client.ts";
import { COMMANDS_QUEUE } from "../../jobs/queue.ts";
import type { Env } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { REDIS_URL, TEST_SIGNING_SECRET, waitFor } from "./env.ts";
import { startTestWorld, type TestWorld } from "./world.ts";

const root = new URL("../..", import.meta.url).pathname;

/** `node app/main.ts` as a real child process, its output appended to `logs`. */
export function spawnLabops(env: Env, logs: string[]): ChildProcess {
  const proc = spawn(process.execPath, ["app/main.ts"], {
    cwd: root,
    env: { ...(env as Record<string, string>), PATH: process.env.PATH ?? "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout?.on("data", (d: Buffer) => logs.push(d.toString()));
  proc.stderr?.on("data", (d: Buffer) => logs.push(d.toString()));
  return proc;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Resolves when the process has exited (at once if it already has). */
export function exitOf(proc: ChildProcess): Promise<Exit> {
  if (proc.exitCode !== null || proc.signalCode !== null)
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
}

/** What `promise` resolves to, or "still running" if it takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | "still running"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"still running">((resolve) => {
    timer = setTimeout(() => resolve("still running"), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends SIGKILL and waits for the exit. */
export async function killHard(proc: ChildProcess): Promise<void> {
  const exited = exitOf(proc);
  if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  await exited;
}

/**
 * The Azure emulator's inventory after `labs` lab creates: nothing deleted,
 * every resource created once (secrets and role assignments have their own
 * counts; the vault's seed secrets are checked for a single lab).
 */
export function expectEachResourceOnce(world: TestWorld, labs = 1): void {
  const inventory = world.cloud.azure.inventory();
  for (const [type, counts] of Object.entries(inventory.counts)) {
    expect(counts.deleted, type).toBe(0);
    if (type.startsWith(RESOURCE_TYPES.secret) || type === RESOURCE_TYPES.roleAssignment) continue;
    const alive = inventory.resources.filter((r) => r.type === type).length;
    expect(counts.created, `${type} created twice`).toBe(alive);
  }
  expect(inventory.counts[RESOURCE_TYPES.roleAssignment]?.created).toBe(2 * labs);
  if (labs > 1) return;
  const vault = inventory.resources.find((r) => r.type === RESOURCE_TYPES.vault);
  expect(vault?.secrets?.map((s) => s.versions.length)).toEqual([1, 1]);
}

/**
 * What the bot posted in `channel` for one lab create, counting every
 * chat.postMessage call and not just what shows: one card (updated in place as
 * often as it takes) and each milestone reply exactly once, as in a run nobody
 * interrupted.
 */
export async function expectOneCardAndEachMilestoneOnce(world: TestWorld, channel: string): Promise<void> {
  const roots = world.slack.messages.filter((m) => m.channel === channel && !m.threadTs && !m.ephemeral);
  // Card updates go out in the background, paced to Slack's limits: the last may trail the record.
  await waitFor(() => roots.every((m) => /^Lab \S+ is ready/.test(m.text)) || undefined, "the card", 30_000);
  expect(roots.map((m) => m.text)).toEqual([expect.stringMatching(/^Lab \S+ is ready/)]);
  const thread = roots[0]?.ts;
  const posts = world.slack.calls.filter(
    (c) => c.method === "chat.postMessage" && c.args.channel === channel,
  );
  expect(posts.filter((c) => c.args.thread_ts === undefined)).toHaveLength(1);
  const replies = posts.filter((c) => c.args.thread_ts === thread).map((c) => String(c.args.text));
  const said = (pattern: RegExp) => replies.filter((r) => pattern.test(r)).length;
  expect(
    [/^Cluster `\S+` is up/, /^Key Vault `\S+` is ready/, /^podinfo runs on/].map(said),
    replies.join("\n"),
  ).toEqual([1, 1, 1]);
  expect(posts).toHaveLength(4);
  expect(world.slack.calls.filter((c) => c.method === "chat.update").length).toBeGreaterThan(0);
}

/**
 * Sends a slash command until labops accepts it ("Queued ..."), and returns
 * the answer. A web role just started may still be connecting to Redis and
 * answer "try again", as a person would then do; each try is a new delivery,
 * so only the accepted one is queued.
 */
export async function sayUntilQueued(slack: SlackRequestClient, input: SlashCommandInput): Promise<string> {
  return waitFor(
    async () => {
      const res = await slack.slashCommand(input);
      const text = res.status === 200 ? (res.json() as { text?: string }).text : undefined;
      return text?.startsWith("Queued") ? text : undefined;
    },
    `labops to accept ${input.command} ${input.text}`,
    20_000,
    250,
  );
}

/**
 * The emulated cloud and Slack, the web role in this process, and worker
 * roles as real child processes (`startWorker`), all on one Redis (the
 * shared one, or the test's own), with the test's view of the lab registry
 * and the command queue.
 */
export interface WebAndWorkers {
  world: TestWorld;
  web: Running;
  /** Signed Slack requests to the web role. */
  slack: SlackRequestClient;
  redis: Redis;
  registry: RedisLabRegistry;
  queue: Queue;
  /** Everything the worker processes printed, in order. */
  workerLogs: string[];
  startWorker(env?: Record<string, string>): ChildProcess;
  stop(): Promise<void>;
}

export async function startWebAndWorkers(options: {
  timeScale: number;
  redisUrl?: string;
  webLogs?: Writable;
  /** More of the web role's environment (OTEL_* for the tracing tests). */
  webEnv?: Record<string, string>;
}): Promise<WebAndWorkers> {
  const redisUrl = options.redisUrl ?? REDIS_URL;
  const world = await startTestWorld(options.timeScale);
  const web = await startLabops({
    env: world.env({ LABOPS_ROLE: "web", REDIS_URL: redisUrl, ...options.webEnv }),
    logger: createLogger(
      options.webLogs ? { level: "info", destination: options.webLogs } : { level: "silent" },
    ),
    host: "127.0.0.1",
  });
  // Waits out a Redis restart like the bot's own workers do.
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  redis.on("error", () => undefined);
  const prefix = String(world.env().LABOPS_REDIS_PREFIX);
  const queue = new Queue(COMMANDS_QUEUE, { connection: redis, prefix });
  queue.on("error", () => undefined);
  const children: ChildProcess[] = [];
  const workerLogs: string[] = [];
  return {
    world,
    web,
    slack: new SlackRequestClient(`http://127.0.0.1:${web.port}/slack/events`, TEST_SIGNING_SECRET),
    redis,
    registry: new RedisLabRegistry(redis, prefix),
    queue,
    workerLogs,
    startWorker(env = {}) {
      const child = spawnLabops(
        world.env({ LABOPS_ROLE: "worker", REDIS_URL: redisUrl, ...env }),
        workerLogs,
      );
      children.push(child);
      return child;
    },
    async stop() {
      for (const child of children) await killHard(child);
      await web.stop();
      await queue.close();
      redis.disconnect();
      await world.stop();
    },
  };
}
