import { fileURLToPath } from "node:url";
import type { Express } from "express";
import type { Redis } from "ioredis";
import { createWebServer } from "../adapters/http/server.ts";
import { PrometheusMetrics } from "../adapters/metrics/prometheus.ts";
import { RedisAuditLog } from "../adapters/redis/audit.ts";
import { RedisConfirmationStore } from "../adapters/redis/confirmations.ts";
import { RedisConversationReferenceStore } from "../adapters/redis/conversations.ts";
import { RedisDeliveryLog } from "../adapters/redis/deliveries.ts";
import { RedisRateLimiter } from "../adapters/redis/rate-limiter.ts";
import { RedisLabRegistry } from "../adapters/redis/registry.ts";
import { createSlackApp, SLACK_EVENTS_PATH, type SlackApp } from "../adapters/slack/app.ts";
import { SlackChat } from "../adapters/slack/chat.ts";
import { mountQueueDashboard, type QueueDashboard } from "../jobs/admin.ts";
import { createRedis, whenReady } from "../jobs/connection.ts";
import { placeholderProcessor } from "../jobs/processors/placeholder.ts";
import { BullCommandQueue } from "../jobs/queue.ts";
import { startScheduleWorker } from "../jobs/scheduler.ts";
import { type CommandWorker, startCommandWorker } from "../jobs/worker.ts";
import { slackRatePolicy, teamsRatePolicy } from "./chat/limits.ts";
import { PacedChat } from "./chat/paced.ts";
import { ChatRouter } from "./chat/router.ts";
import type { IntakeDeps } from "./commands/intake.ts";
import { type Config, type Env, loadConfig } from "./config.ts";
import { ConfigError, errorCode } from "./errors.ts";
import { createLogger, type Logger } from "./log.ts";
import type { ChatPort, Platform } from "./ports/chat.ts";
import type { Metrics } from "./ports/metrics.ts";
import type { WatcherSettings } from "./watcher/settings.ts";
import { type RunningWatcher, startWatcher } from "./wiring/watcher.ts";
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
  /** The clock of intake (confirmation expiry); tests move it instead of waiting. */
  now?: () => number;
  /** Counts commands and chat calls (Prometheus in production); nothing when absent. */
  metrics?: Metrics;
  /** Overrides of the rotation watcher's derived waits (tests: shorter deadlines). */
  watcher?: Partial<WatcherSettings>;
}

export interface Running {
  config: Config;
  /** The bound HTTP port (differs from PORT when PORT=0 in tests). */
  port: number | undefined;
  stop(): Promise<void>;
}

/**
 * The chat port of one process: each platform's implementation behind
 * PacedChat, whose limiter lives in Redis, so the platforms' limits hold
 * across every web and worker process. Any process can reach any
 * conversation: Slack needs only the bot token; Teams reads the conversation
 * references the web role stored in Redis.
 */
/** botbuilder takes half a second to load: only processes that talk to Teams load it. */
async function loadTeams() {
  const [adapter, app, chat] = await Promise.all([
    import("../adapters/teams/adapter.ts"),
    import("../adapters/teams/app.ts"),
    import("../adapters/teams/chat.ts"),
  ]);
  return { ...adapter, ...app, ...chat };
}

export async function createChat(
  config: Config,
  logger: Logger,
  redis: Redis,
  metrics?: Metrics,
): Promise<{ router: ChatRouter; teams: PacedChat | undefined }> {
  const limiter = new RedisRateLimiter(redis, config.redisPrefix);
  const byPlatform: Partial<Record<Platform, ChatPort>> = {};
  let teams: PacedChat | undefined;
  if (config.slack) {
    const slack = new SlackChat({ botToken: config.slack.botToken, apiUrl: config.slack.apiUrl, logger });
    byPlatform.slack = new PacedChat(slack, {
      limiter,
      policy: slackRatePolicy,
      logger,
      timeScale: config.timeScale,
      ...(metrics ? { metrics: { metrics, service: "slack" } } : {}),
    });
  }
  if (config.teams) {
    const { LabopsCloudAdapter, TeamsChat, teamsAuthentication } = await loadTeams();
    const adapter = new LabopsCloudAdapter(
      teamsAuthentication(config.teams, config.caPem, (error) =>
        logger.warn({ code: errorCode(error) }, "teams.token_failed"),
      ),
      logger,
    );
    const inner = new TeamsChat({
      adapter,
      appId: config.teams.appId,
      references: new RedisConversationReferenceStore(redis, config.redisPrefix),
    });
    teams = new PacedChat(inner, {
      limiter,
      policy: teamsRatePolicy,
      logger,
      timeScale: config.timeScale,
      ...(metrics ? { metrics: { metrics, service: "teams" } } : {}),
    });
    byPlatform.teams = teams;
  }
  return { router: new ChatRouter(byPlatform), teams };
}

export async function startLabops(options: StartOptions): Promise<Running> {
  const config = loadConfig(options.env);
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  logger.info({ roles: [...config.roles] }, "labops.starting");
  const stops: Array<() => Promise<void>> = [];
  let port: number | undefined;
  let worker: CommandWorker | undefined;
  const metrics = options.metrics ?? new PrometheusMetrics();
  // Every role serves /healthz, /readyz and /metrics on PORT; the web role adds Slack and Teams.
  const rawRoutes: Parameters<typeof createWebServer>[0]["rawRoutes"] = [];
  const mounts: Array<(app: Express) => void> = [];
  const health = createRedis(config.redisUrl, "producer");
  health.on("error", () => undefined); // reported through /readyz, not as a crash

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
      const { router: chat, teams: teamsChat } = await createChat(config, logger, producer, metrics);
      const intakeDeps: Omit<IntakeDeps, "logger"> = {
        queue,
        registry: new RedisLabRegistry(producer, config.redisPrefix),
        confirmations: new RedisConfirmationStore(producer, config.redisPrefix, options.now),
        audit: new RedisAuditLog(producer, config.redisPrefix),
        deliveries: new RedisDeliveryLog(producer, config.redisPrefix),
        admins: config.admins,
        ...(options.now ? { now: options.now } : {}),
        metrics,
      };
      let slack: SlackApp | undefined;
      if (config.slack) {
        slack = createSlackApp({
          config: config.slack,
          intake: intakeDeps,
          chat,
          logger,
          parseOptions: { maxTtlMs: config.maxTtlMs },
          ...(options.now ? { now: options.now } : {}),
        });
        if (slack.requestListener) {
          rawRoutes.push({ method: "POST", path: SLACK_EVENTS_PATH, listener: slack.requestListener });
        }
      }
      const teamsConfig = config.teams;
      const teams =
        teamsConfig && teamsChat
          ? (await loadTeams()).createTeamsApp({
              config: teamsConfig,
              caPem: config.caPem,
              intake: intakeDeps,
              references: new RedisConversationReferenceStore(producer, config.redisPrefix),
              pace: (requests, call) => teamsChat.paced(requests, call, "turnReply"),
              logger,
              parseOptions: { maxTtlMs: config.maxTtlMs },
              ...(options.now ? { now: options.now } : {}),
            })
          : undefined;
      if (teams) mounts.push((app) => teams.mount(app));
      const slackApp = slack;
      stops.push(async () => {
        await slackApp?.stop().catch(() => undefined);
        await teams?.settle();
        await chat.flush();
        await queue.close();
        producer.disconnect();
      });
      // Socket Mode connects out to Slack; HTTP mode has nothing to start.
      await slack?.start();
      if (slack && config.slack?.appToken) logger.info("slack.socket_mode_connected");
    }

    if (config.roles.has("worker")) {
      const connection = createRedis(config.redisUrl, "worker");
      connection.on("error", () => undefined); // BullMQ reconnects; its own "error" event is logged
      await whenReady(connection, 10_000);
      const client = createRedis(config.redisUrl, "client");
      client.on("error", () => undefined);
      const { router: chat } = await createChat(config, logger, client, metrics);
      const workflows = createWorkflows(config, client, { metrics });
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
        metrics,
        ...(workflows.deps.audit ? { audit: workflows.deps.audit } : {}),
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
        // Cards accepted from finished jobs still go out before the process leaves.
        await chat.flush();
        await workflows.close();
        await expiryQueue.close();
        connection.disconnect();
        scheduleConnection.disconnect();
        client.disconnect();
      });
    }
    // The rotation watcher. The placeholder processors mean a chat-only run with no cloud to watch.
    if (config.roles.has("watcher") && options.processors !== "placeholder") {
      const client = createRedis(config.redisUrl, "client");
      client.on("error", () => undefined); // leases and polls retry; a long outage lets the leases lapse
      await whenReady(client, 10_000);
      const { router: chat } = await createChat(config, logger, client, metrics);
      const running: RunningWatcher = await startWatcher({
        config,
        redis: client,
        chat,
        logger,
        metrics,
        ...(options.watcher ? { settings: options.watcher } : {}),
      });
      stops.push(async () => {
        await running.stop();
        await chat.flush();
        client.disconnect();
      });
    }

    let dashboard: QueueDashboard | undefined;
    const web = createWebServer({
      logger,
      rawRoutes,
      extend(app) {
        for (const mount of mounts) mount(app);
        // Bull Board only with LABOPS_ADMIN_TOKEN; the queues are sampled for /metrics either way.
        dashboard = mountQueueDashboard(app, {
          connection: health,
          prefix: config.redisPrefix,
          token: config.adminToken,
          ...(options.queueName ? { queueName: options.queueName } : {}),
        });
        app.get("/metrics", async (_req, res) => {
          if (metrics instanceof PrometheusMetrics) {
            const counts = (await dashboard?.counts().catch(() => [])) ?? [];
            for (const c of counts) metrics.queueJobs.set({ queue: c.queue, state: c.state }, c.count);
            const { contentType, body } = await metrics.render();
            res.type(contentType).send(body);
          } else {
            res.status(404).send("metrics are not collected in this process\n");
          }
        });
      },
      readiness: [
        {
          name: "redis",
          async check() {
            await health.ping();
          },
        },
      ],
    });
    port = await web.listen(config.port, options.host);
    logger.info({ port, roles: [...config.roles] }, "web.listening");
    // The listener stops first: no new command is accepted while the rest drains.
    stops.unshift(() => web.close());
    stops.push(async () => {
      await dashboard?.close();
      health.disconnect();
    });
  } catch (error) {
    for (const stop of stops) await stop().catch(() => undefined);
    health.disconnect();
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
  let running: Running | undefined;
  let stopAsked = false;
  const shutdown = () =>
    running?.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  const onSignal = (signal: string) => {
    process.stderr.write(
      `labops: ${signal} received, ${running ? "shutting down" : "stopping once started"}\n`,
    );
    stopAsked = true;
    shutdown();
  };
  // Before anything starts: a signal while labops waits for Redis, or while its worker already
  // takes jobs, is a graceful stop once it is up, never a kill in the middle of a step.
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  process.once("SIGINT", () => onSignal("SIGINT"));
  try {
    running = await startLabops({ env: process.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (stopAsked) shutdown();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
