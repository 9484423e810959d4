import { fileURLToPath } from "node:url";
import type { Express, NextFunction, Request, Response } from "express";
import { createWebServer } from "../adapters/http/server.ts";
import { PrometheusMetrics } from "../adapters/metrics/prometheus.ts";
import { type CreateTracingOptions, createTracing } from "../adapters/otel/setup.ts";
import { adminGuard, mountQueueDashboard, type QueueDashboard } from "../jobs/admin.ts";
import { createRedis } from "../jobs/connection.ts";
import { systemClock } from "../src/clock.ts";
import { type Config, loadConfig } from "../src/config.ts";
import { ConfigError } from "../src/errors.ts";
import { createLogger } from "../src/log.ts";
import { NO_TRACING } from "../src/ports/tracing.ts";
import { createChatShared } from "./chat.ts";
import type { RoleContext, RoleStop, StartOptions, WebParts } from "./roles.ts";
import { startWatcherRole } from "./watcher.ts";
import { startWebRole } from "./web.ts";
import { startWorkerRole } from "./worker.ts";

export { createChat } from "./chat.ts";
export type { StartOptions } from "./roles.ts";

/**
 * The composition root: the only place that knows every adapter. One process
 * image, three roles (web, worker, watcher), picked by LABOPS_ROLE; each role
 * is wired in a file of its own beside this one.
 */

export interface Running {
  config: Config;
  /** The bound HTTP port (differs from PORT when PORT=0 in tests). */
  port: number | undefined;
  stop(): Promise<void>;
}

export async function startLabops(options: StartOptions): Promise<Running> {
  const config = loadConfig(options.env);
  // Traces first, so the logger's lines carry the active span's ids (docs/adr/0008).
  const made = options.tracing ? undefined : createTracing(options.env, tracingOptions(options, config));
  const tracing = options.tracing ?? made?.tracing ?? NO_TRACING;
  const logger = options.logger ?? createLogger({ level: config.logLevel, tracing });
  for (const warning of made?.config.warnings ?? []) logger.warn({ warning }, "tracing.setting_ignored");
  if (made?.config.enabled) logger.info({ service: made.config.serviceName }, "tracing.on");
  logger.info({ roles: [...config.roles] }, "labops.starting");
  const stops: RoleStop[] = [];
  let port: number | undefined;
  const metrics = options.metrics ?? new PrometheusMetrics();
  // Every role serves /healthz, /readyz and /metrics on PORT; the web role adds Slack and Teams.
  const web: WebParts = { rawRoutes: [], mounts: [] };
  const health = createRedis(config.redisUrl, "producer");
  health.on("error", () => undefined); // reported through /readyz, not as a crash

  try {
    const clock = options.clock ?? systemClock(config.timeScale);
    if (clock.timeScale !== config.timeScale) {
      throw new RangeError(
        `The clock given runs at time scale ${clock.timeScale}, not LABOPS_TIME_SCALE's ${config.timeScale}.`,
      );
    }
    const chatShared = await createChatShared(config, logger, clock, tracing);
    const ctx: RoleContext = { config, clock, logger, metrics, tracing, options, chatShared, health };
    if (config.roles.has("web")) stops.push(await startWebRole(ctx, web));
    if (config.roles.has("worker")) stops.push(await startWorkerRole(ctx));
    if (config.roles.has("watcher") && options.processors !== "placeholder") {
      stops.push(await startWatcherRole(ctx));
    }

    let dashboard: QueueDashboard | undefined;
    const server = createWebServer({
      logger,
      clock,
      rawRoutes: web.rawRoutes,
      extend(app: Express) {
        for (const mount of web.mounts) mount(app);
        // Bull Board only with LABOPS_ADMIN_TOKEN; the queues are sampled for /metrics either way.
        dashboard = mountQueueDashboard(app, {
          connection: health,
          prefix: config.redisPrefix,
          token: config.adminToken,
          ...(options.queueName ? { queueName: options.queueName } : {}),
        });
        // Metrics say what runs and how much: operators only, behind the same token as Bull Board;
        // without LABOPS_ADMIN_TOKEN they are not served at all.
        const metricsGuard = config.adminToken ? adminGuard(config.adminToken) : metricsOff;
        app.get("/metrics", metricsGuard, async (_req, res) => {
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
    port = await server.listen(config.port, options.host ?? config.host);
    logger.info({ port, roles: [...config.roles] }, "web.listening");
    // The listener stops first: no new command is accepted while the rest drains.
    stops.unshift(() => server.close());
    stops.push(async () => {
      await dashboard?.close();
      health.disconnect();
    });
  } catch (error) {
    for (const stop of stops) await stop().catch(() => undefined);
    health.disconnect();
    if (made) await made.tracing.shutdown().catch(() => undefined);
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    config,
    port,
    stop() {
      stopping ??= (async () => {
        for (const stop of stops) await stop();
        // The spans still buffered are exported before the process leaves (a given tracing is its owner's).
        if (made) await made.tracing.shutdown().catch(() => undefined);
        logger.info("labops.stopped");
      })();
      return stopping;
    },
  };
}

/**
 * The worker and watcher roles wait for Redis before they take work
 * (jobs/connection.ts `whenReady`); when it never answers, one message that
 * names where labops looked (without the password) and what to check.
 */
/** What createTracing is told besides OTEL_*: the roles this process runs, and whether to go global. */
function tracingOptions(options: StartOptions, config: Config): CreateTracingOptions {
  return {
    serviceName: "labops",
    // service.version comes from OTEL_RESOURCE_ATTRIBUTES when the deployment sets it.
    resource: { "labops.role": [...config.roles].sort().join(",") },
    ...(options.registerTracingGlobally ? { registerGlobal: true } : {}),
  };
}

/** /metrics when no LABOPS_ADMIN_TOKEN is set: not served, and says why. */
function metricsOff(_req: Request, res: Response, _next: NextFunction): void {
  res.status(404).json({ error: "/metrics is served only with LABOPS_ADMIN_TOKEN set, as a bearer token." });
}

function redisUnreachable(error: unknown): string | undefined {
  if (!(error instanceof Error) || !/^Redis did not become ready within (\d+) ms/.test(error.message))
    return undefined;
  const seconds = Math.round(Number(/(\d+) ms/.exec(error.message)?.[1] ?? 0) / 1000);
  let where = "the Redis in REDIS_URL";
  try {
    const url = new URL(loadConfig(process.env).redisUrl);
    if (url.password) url.password = "***";
    where = `${url.toString()} (REDIS_URL)`;
  } catch {
    // the configuration was read once already; keep the generic wording
  }
  return (
    `labops cannot start: no Redis answered at ${where} within ${seconds} s. ` +
    "Check that Redis is running there (redis-cli -h HOST -p PORT ping), that the host and port are " +
    "reachable from this machine (firewall, container network), and that REDIS_URL carries the password, " +
    "and rediss:// if the server wants TLS."
  );
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
    running = await startLabops({ env: process.env, registerTracingGlobally: true });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    const unreachable = redisUnreachable(error);
    if (unreachable) {
      process.stderr.write(`${unreachable}\n`);
      process.exit(1);
    }
    throw error;
  }
  if (stopAsked) shutdown();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
