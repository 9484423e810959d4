import { createChat } from "../../app/main.ts";
import { startWatcher } from "../../app/watcher.ts";
import { createRedis, whenReady } from "../../jobs/connection.ts";
import { systemClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";

/**
 * The watcher role alone in its own process, for the benchmark: its memory is
 * then its own, not the emulators'. Prints one JSON line per second on
 * stdout (heap and RSS after a full GC, open watch streams, labs held) and a
 * baseline before the watcher starts. Run with --expose-gc.
 */
const gc = (globalThis as { gc?: () => void }).gc;
const sample = (type: string, extra: Record<string, unknown> = {}) => {
  gc?.();
  const m = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({ type, at: Date.now(), heapUsed: m.heapUsed, rss: m.rss, ...extra })}\n`,
  );
};

const config = loadConfig(process.env);
const logger = createLogger({ level: process.env.LABOPS_LOG_LEVEL ?? "warn", destination: process.stderr });
const redis = createRedis(config.redisUrl, "client");
redis.on("error", () => undefined);
await whenReady(redis, systemClock(config.timeScale), 10_000);
const { router: chat } = await createChat(config, logger, redis);
sample("baseline");
const running = await startWatcher({ config, redis, chat, logger });
const timer = setInterval(() => {
  sample("stats", { openWatches: running.watcher.openWatches, labs: running.watcher.labs.length });
}, 1_000);
process.once("SIGTERM", () => {
  clearInterval(timer);
  void running.stop().then(async () => {
    await chat.flush();
    redis.disconnect();
    process.exit(0);
  });
});
