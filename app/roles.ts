import type { RequestListener } from "node:http";
import type { Express } from "express";
import type { Redis } from "ioredis";
import type { Clock } from "../src/clock.ts";
import type { Config, Env } from "../src/config.ts";
import type { Logger } from "../src/log.ts";
import type { Metrics } from "../src/ports/metrics.ts";
import type { Tracing } from "../src/ports/tracing.ts";
import type { WatcherSettings } from "../src/watcher/settings.ts";
import type { ChatShared } from "./chat.ts";

export interface StartOptions {
  env: Env;
  logger?: Logger;
  /** Overrides for tests: their own queue name, shorter locks. */
  queueName?: string;
  /** "placeholder" runs every command through the placeholder step: the chat path alone, without Azure. */
  processors?: "workflows" | "placeholder";
  host?: string;
  /**
   * The process's clock (RoleContext.clock); `systemClock(LABOPS_TIME_SCALE)` when absent.
   * Tests give one whose time they move (a confirmation's expiry) instead of waiting;
   * its timeScale must be LABOPS_TIME_SCALE's.
   */
  clock?: Clock;
  /** Counts commands and chat calls (Prometheus in production); nothing when absent. */
  metrics?: Metrics;
  /** Overrides of the rotation watcher's derived waits (tests: shorter deadlines). */
  watcher?: Partial<WatcherSettings>;
  /**
   * The process's traces (tests and the demo: the SDK with an in-memory
   * exporter); when absent, what the OTEL_* variables of `env` ask for
   * (adapters/otel/setup.ts), NO_TRACING unless they name an exporter.
   */
  tracing?: Tracing;
  /** Install the tracing made from OTEL_* as OpenTelemetry's globals (the process's entry point only). */
  registerTracingGlobally?: boolean;
}

/** What every role of one process is started with. */
export interface RoleContext {
  config: Config;
  /** The process's one clock: wall time, its waits divided by LABOPS_TIME_SCALE. */
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** Spans of every role of the process (NO_TRACING when tracing is off). */
  tracing: Tracing;
  options: StartOptions;
  chatShared: ChatShared;
  /** The health connection (readiness and Bull Board's counts). */
  health: Redis;
}

/** What the web server of the process serves for a role. */
export interface WebParts {
  rawRoutes: Array<{ method: "POST"; path: string; listener: RequestListener }>;
  mounts: Array<(app: Express) => void>;
}

/** Stops a role: drains what it runs and closes its connections. */
export type RoleStop = () => Promise<void>;
