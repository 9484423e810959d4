import { createRedis, whenReady } from "../jobs/connection.ts";
import { BullCommandQueue } from "../jobs/queue.ts";
import { startCommandWorker } from "../jobs/worker.ts";
import { ChatRouter } from "../src/chat/router.ts";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/log.ts";
import type { CommandEnvelope } from "../src/ports/queue.ts";
import { testEnv } from "../test/helpers/env.ts";
import { log, out, setting } from "./lib/report.ts";
import { summarize } from "./lib/stats.ts";

/**
 * The command queue: the product's BullCommandQueue (BullMQ add, envelope
 * sealed with the secret key) feeding the product's
 * command worker (BullMQ Worker at the configured concurrency, envelope
 * opened, audit-free) with a processor that does nothing, on the shared Redis
 * under a prefix of its own.
 *
 * - queue.latency: BENCH_PACED_JOBS (500) jobs enqueued at BENCH_RATE (100)
 *   per second, below the worker's capacity: enqueue call to processor start.
 * - queue.throughput: BENCH_JOBS (2000) jobs enqueued at once: jobs per
 *   second from the first enqueue to the last completion.
 * Run: `npm run bench -- queue`.
 */

const JOBS = setting("BENCH_JOBS", 2000);
const PACED = setting("BENCH_PACED_JOBS", 500);
const RATE = setting("BENCH_RATE", 100);

const env = testEnv({ LABOPS_LOG_LEVEL: "warn" });
const config = loadConfig(env);
const logger = createLogger({ level: "warn", destination: process.stderr });
const producer = createRedis(config.redisUrl, "producer");
const connection = createRedis(config.redisUrl, "worker");
const clock = systemClock(config.timeScale);
await Promise.all([whenReady(producer, clock, 10_000), whenReady(connection, clock, 10_000)]);
const queue = new BullCommandQueue({
  connection: producer,
  prefix: config.redisPrefix,
  secretKey: config.secretKey,
});

const enqueuedAt = new Map<string, number>();
const startedAt = new Map<string, number>();
let completed = 0;
let onCompleted: (() => void) | undefined;
const worker = startCommandWorker({
  connection,
  prefix: config.redisPrefix,
  secretKey: config.secretKey,
  chat: new ChatRouter({}),
  logger,
  clock,
  processors: {},
  fallback: async ({ envelope }) => {
    startedAt.set(envelope.deliveryId, performance.now());
  },
  concurrency: config.workerConcurrency,
});
worker.worker.on("completed", () => {
  completed += 1;
  onCompleted?.();
});

function envelope(id: string): CommandEnvelope {
  return {
    deliveryId: `bench.${id}`,
    correlationId: `c-${id}`,
    command: { kind: "lab.status", lab: `q-${id}` },
    origin: {
      address: { platform: "slack", tenant: "T0001", channel: "C0QUEUE" },
      user: { platform: "slack", id: "U0QUEUE" },
    },
    receivedAt: Date.now(),
  };
}

async function enqueue(id: string): Promise<void> {
  const e = envelope(id);
  enqueuedAt.set(e.deliveryId, performance.now());
  await queue.enqueue(e);
}

function allCompleted(total: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`only ${completed} of ${total} jobs completed`)),
      timeoutMs,
    );
    const check = () => {
      if (completed >= total) {
        clearTimeout(timer);
        onCompleted = undefined;
        resolve();
      }
    };
    onCompleted = check;
    check();
  });
}

const delays = (ids: string[]) =>
  ids.map((id) => (startedAt.get(`bench.${id}`) ?? Number.NaN) - (enqueuedAt.get(`bench.${id}`) ?? 0));

try {
  // Warm-up: connections, Lua scripts loaded.
  await Promise.all(Array.from({ length: 50 }, (_, i) => enqueue(`w-${i}`)));
  await allCompleted(50, 30_000);

  // Latency at a steady rate below capacity.
  const paced = Array.from({ length: PACED }, (_, i) => `p-${i}`);
  const t0 = performance.now();
  const pending: Array<Promise<void>> = [];
  for (const [i, id] of paced.entries()) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(enqueue(id));
  }
  await Promise.all(pending);
  await allCompleted(50 + PACED, 60_000);
  const latency = summarize(delays(paced));
  log("bench.queue.latency", { ...latency });
  out({
    bench: "queue.latency",
    jobs: PACED,
    rate_per_s: RATE,
    concurrency: config.workerConcurrency,
    enqueue_to_start_p50_ms: latency.p50,
    enqueue_to_start_p99_ms: latency.p99,
    enqueue_to_start_max_ms: latency.max,
    goal: "every job completed (no bar set)",
    met: completed === 50 + PACED,
  });

  // Throughput: everything at once.
  const burst = Array.from({ length: JOBS }, (_, i) => `b-${i}`);
  const t1 = performance.now();
  await Promise.all(burst.map((id) => enqueue(id)));
  const enqueueMs = performance.now() - t1;
  await allCompleted(50 + PACED + JOBS, 120_000);
  const totalMs = performance.now() - t1;
  const backlog = summarize(delays(burst));
  out({
    bench: "queue.throughput",
    jobs: JOBS,
    concurrency: config.workerConcurrency,
    jobs_per_s: Math.round((JOBS / totalMs) * 1000),
    enqueues_per_s: Math.round((JOBS / enqueueMs) * 1000),
    wall_ms: Math.round(totalMs),
    backlog_wait_p50_ms: backlog.p50,
    backlog_wait_max_ms: backlog.max,
    goal: "every job completed (no bar set)",
    met: completed === 50 + PACED + JOBS,
  });
} finally {
  await worker.close(5_000);
  await queue.queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  const keys = await producer.keys(`${config.redisPrefix}:*`);
  if (keys.length > 0) await producer.del(...keys);
  producer.disconnect();
  connection.disconnect();
}
process.exit(0);
