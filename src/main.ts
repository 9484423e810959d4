import { fileURLToPath } from "node:url";
import { createWebServer, type WebServer } from "../adapters/http/server.ts";
import { createSlackApp, SLACK_EVENTS_PATH } from "../adapters/slack/app.ts";
import { SlackChat } from "../adapters/slack/chat.ts";
import { createRedis, whenReady } from "../jobs/connection.ts";
import { placeholderProcessor } from "../jobs/processors/placeholder.ts";
import { BullCommandQueue } from "../jobs/queue.ts";
import { startScheduleWorker } from "../jobs/scheduler.ts";
import { type CommandWorker, startCommandWorker } from "../jobs/worker.ts";
import { ChatRouter } from "./chat/router.ts";
import { type Config, type Env, loadConfig } from "./config.ts";
import { ConfigError } from "./errors.ts";
import { createLogger, type Logger } from "./log.ts";
import type { ChatPort, Platform } from "./ports/chat.ts";
import { createWorkflows } from "./wiring/workflows.ts";

/**
 * The composition root: the only place that knows every adapter. One process
 * image, three roles (web, worker, watcher), picked by LABOPS_ROLE.
 */

export interface StartOptions {
  env: Env;
  logger?: Logger;
  /** Overrides for tests: their own queue name, shorter locks. */
  queueName?: string;
  /** "placeholder" runs every command through the placeholder step: the chat path alone, without Azure. */
  processors?: "workflows" | "placeholder";
  host?: string;
}

export interface Running {
  config: Config;
  /** The bound HTTP port (differs from PORT when PORT=0 in tests). */
  port: number | undefined;
  stop(): Promise<void>;
}

function chatPorts(config: Config, logger: Logger): ChatPort {
  const byPlatform: Partial<Record<Platform, ChatPort>> = {};
  if (config.slack) {
    byPlatform.slack = new SlackChat({
      botToken: config.slack.botToken,
      apiUrl: config.slack.apiUrl,
      logger,
    });
  }
  return new ChatRouter(byPlatform);
}

export async function startLabops(options: StartOptions): Promise<Running> {
  const config = loadConfig(options.env);
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const stops: Array<() => Promise<void>> = [];
  const chat = chatPorts(config, logger);
  let port: number | undefined;
  let web: WebServer | undefined;
  let worker: CommandWorker | undefined;

  try {
    if (config.roles.has("web")) {
      const producer = createRedis(config.redisUrl, "producer");
      producer.on("error", () => undefined); // reported through /readyz, not as a crash
      const queue = new BullCommandQueue({
        connection: producer,
        prefix: config.redisPrefix,
        secretKey: config.secretKey,
        ...(options.queueName ? { queueName: options.queueName } : {}),
      });
      const rawRoutes: Parameters<typeof createWebServer>[0]["rawRoutes"] = [];
      if (config.slack) {
        const slack = createSlackApp({
          config: config.slack,
          queue,
          logger,
          parseOptions: { maxTtlMs: config.maxTtlMs },
        });
        rawRoutes.push({ method: "POST", path: SLACK_EVENTS_PATH, listener: slack.requestListener });
      }
      web = createWebServer({
        logger,
        rawRoutes,
        readiness: [
          {
            name: "redis",
            async check() {
              await producer.ping();
            },
          },
        ],
      });
      port = await web.listen(config.port, options.host);
      logger.info({ port, roles: [...config.roles] }, "web.listening");
      const server = web;
      stops.push(async () => {
        await server.close();
        await queue.close();
        producer.disconnect();
      });
    }

    if (config.roles.has("worker")) {
      const connection = createRedis(config.redisUrl, "worker");
      connection.on("error", () => undefined); // BullMQ reconnects; its own "error" event is logged
      await whenReady(connection, 10_000);
      const client = createRedis(config.redisUrl, "client");
      client.on("error", () => undefined);
      const workflows = createWorkflows(config, client);
      const processors = options.processors === "placeholder" ? {} : workflows.processors;
      worker = startCommandWorker({
        connection,
        prefix: config.redisPrefix,
        secretKey: config.secretKey,
        chat,
        logger,
        processors,
        fallback: placeholderProcessor,
        concurrency: config.workerConcurrency,
        lockDurationMs: config.jobLockMs,
        stalledIntervalMs: config.jobLockMs,
        ...(options.queueName ? { queueName: options.queueName } : {}),
      });
      // Expiry destroys go through the command queue like any other destroy.
      const expiryQueue = new BullCommandQueue({
        connection: client,
        prefix: config.redisPrefix,
        secretKey: config.secretKey,
        ...(options.queueName ? { queueName: options.queueName } : {}),
      });
      const scheduleConnection = createRedis(config.redisUrl, "worker");
      scheduleConnection.on("error", () => undefined);
      const schedules = startScheduleWorker({
        connection: scheduleConnection,
        prefix: config.redisPrefix,
        registry: workflows.deps.registry,
        commands: expiryQueue,
        chat,
        logger,
      });
      const w = worker;
      // After the web server has stopped taking commands, running jobs drain.
      stops.push(async () => {
        await Promise.all([w.close(), schedules.close()]);
        await workflows.close();
        await expiryQueue.close();
        connection.disconnect();
        scheduleConnection.disconnect();
        client.disconnect();
      });
    }
  } catch (error) {
    for (const stop of stops) await stop().catch(() => undefined);
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    config,
    port,
    stop() {
      stopping ??= (async () => {
        for (const stop of stops) await stop();
        logger.info("labops.stopped");
      })();
      return stopping;
    },
  };
}

async function main(): Promise<void> {
  let running: Running;
  try {
    running = await startLabops({ env: process.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const shutdown = (signal: string) => {
    process.stderr.write(`labops: ${signal} received, shutting down\n`);
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
