import type { Redis } from "ioredis";
import { KubeClusterPort } from "../adapters/kubernetes/cluster.ts";
import { KubeClusterWatchPort } from "../adapters/kubernetes/watch.ts";
import { RedisLeases } from "../adapters/redis/leases.ts";
import { RedisLabRegistry } from "../adapters/redis/registry.ts";
import { RedisRotationThreads, RedisWatchStateStore } from "../adapters/redis/watcher.ts";
import { createRedis, whenReady } from "../jobs/connection.ts";
import { type Clock, systemClock } from "../src/clock.ts";
import type { Config } from "../src/config.ts";
import type { Logger } from "../src/log.ts";
import type { ChatPort } from "../src/ports/chat.ts";
import type { ClusterWatchPort } from "../src/ports/cluster-watch.ts";
import { type Metrics, NO_METRICS } from "../src/ports/metrics.ts";
import { NO_TRACING, type Tracing } from "../src/ports/tracing.ts";
import { RotationWatcher, type RotationWatcherDeps } from "../src/watcher/rotation-watcher.ts";
import { type WatcherSettings, watcherSettings } from "../src/watcher/settings.ts";
import { SharedClusterWatches } from "../src/watcher/shared-watches.ts";
import { createChat } from "./chat.ts";
import type { RoleContext, RoleStop } from "./roles.ts";
import { createAzurePorts } from "./workflows.ts";

/**
 * The watcher role wired to the real adapters: the Azure SDKs, client-node
 * watches, and Redis for leases, state and the rotate commands' threads.
 */
export interface WatcherOptions {
  config: Config;
  /** A connection of its own ("client" kind): leases must not queue behind other traffic. */
  redis: Redis;
  chat: ChatPort;
  logger: Logger;
  metrics?: Metrics;
  /** Overrides of the derived waits (tests: shorter leases and deadlines). */
  settings?: Partial<WatcherSettings>;
  /** Tests and benchmarks may count or wrap the watches. */
  clusterWatch?: ClusterWatchPort;
  /** Replica id in leases and alert claims (unique per process by default). */
  holder?: string;
  /** The clock of the watcher and its Kubernetes adapters; the wall clock at LABOPS_TIME_SCALE by default. */
  clock?: Clock;
  /** One trace per rotation, and the spans of the calls a diagnosis makes; NO_TRACING when absent. */
  tracing?: Tracing;
}

export interface RunningWatcher {
  watcher: RotationWatcher;
  /** Drains (alerts in flight are said, state saved) and releases every lease. */
  stop(): Promise<void>;
}

export async function startWatcher(options: WatcherOptions): Promise<RunningWatcher> {
  const { config, redis, logger } = options;
  const metrics = options.metrics ?? NO_METRICS;
  const clock = options.clock ?? systemClock(config.timeScale);
  const tracing = options.tracing ?? NO_TRACING;
  const { azure, keyVault } = createAzurePorts(config, { metrics, role: "watcher", clock, tracing });
  const deps: RotationWatcherDeps = {
    azure,
    keyVault,
    cluster: new KubeClusterPort({ clock, tracing }),
    // The labs of one host cluster share one watch per kind on it; a dedicated lab's watches are its own.
    clusterWatch: new SharedClusterWatches(options.clusterWatch ?? new KubeClusterWatchPort({ clock })),
    chat: options.chat,
    registry: new RedisLabRegistry(redis, config.redisPrefix),
    leases: new RedisLeases(redis, config.redisPrefix, "watch:lease"),
    store: new RedisWatchStateStore(redis, config.redisPrefix),
    threads: new RedisRotationThreads(redis, config.redisPrefix),
    metrics,
    logger,
    settings: watcherSettings(clock, options.settings),
    clock,
    tracing,
    random: Math.random,
    ...(options.holder ? { holder: options.holder } : {}),
  };
  const watcher = new RotationWatcher(deps);
  await watcher.start();
  return { watcher, stop: () => watcher.stop() };
}

/** The watcher role. The placeholder processors mean a chat-only run with no cloud to watch. */
export async function startWatcherRole(ctx: RoleContext): Promise<RoleStop> {
  const { config, logger, metrics, options } = ctx;
  const client = createRedis(config.redisUrl, "client");
  client.on("error", () => undefined); // leases and polls retry; a long outage lets the leases lapse
  await whenReady(client, ctx.clock, 10_000);
  const { router: chat } = await createChat(config, logger, client, metrics, ctx.chatShared);
  const running = await startWatcher({
    config,
    redis: client,
    chat,
    logger,
    metrics,
    clock: ctx.clock,
    tracing: ctx.tracing,
    ...(options.watcher ? { settings: options.watcher } : {}),
  });
  return async () => {
    await running.stop();
    await chat.flush();
    client.disconnect();
  };
}
