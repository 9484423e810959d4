import { randomFillSync } from "node:crypto";
import { type DestinationStream, type LogFn, type Logger, pino } from "pino";
import { isValidRef, type SpanRef, type Tracing } from "./ports/tracing.ts";

export type { Logger } from "pino";

/**
 * Fields that may carry a credential or a secret value. pino removes them
 * before a line is written, at the top level and one level down; deeper
 * values are kept out of logs by construction (SecretValue, no raw bodies).
 */
const SECRET_FIELDS = [
  "password",
  "secret",
  "token",
  "value",
  "clientSecret",
  "signingSecret",
  "botToken",
  "appToken",
  "appPassword",
  "secretKey",
  "authorization",
  "cookie",
  "sealed",
];

export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  "headers.authorization",
  'headers["x-slack-signature"]',
  "req.headers.authorization",
];

export interface LoggerOptions {
  level?: string;
  /** Where lines go; stdout when absent. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
  /** When it is enabled, every line written while a span is active carries `trace_id` and `span_id`. */
  tracing?: Tracing;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { service: "labops", ...options.base },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      ...(options.tracing?.enabled ? { mixin: traceMixin(options.tracing) } : {}),
    },
    options.destination,
  );
}

/** Random bytes for correlation ids, drawn from the system 256 ids at a time rather than per id. */
const ID_BYTES = 6;
const idPool = Buffer.alloc(ID_BYTES * 256);
let idAt = idPool.length;

/** A short id that follows one command from chat through its job to every reply and alert. */
export function newCorrelationId(): string {
  if (idAt + ID_BYTES > idPool.length) {
    randomFillSync(idPool);
    idAt = 0;
  }
  const id = idPool.toString("hex", idAt, idAt + ID_BYTES);
  idAt += ID_BYTES;
  return `c-${id}`;
}

/** The line-writing part of a logger: all that a path taken for every command needs. */
export type LineLogger = Pick<Logger, "info" | "warn" | "error">;

/**
 * A child of `logger` with `bindings`, made only when a line is written at a
 * level that is on. On a path taken for every command, pino's child (which
 * serializes and redacts its bindings as it is made) costs about as much as a
 * line, and most such paths write none at `warn`.
 */
export function deferredChild(logger: Logger, bindings: Record<string, unknown>): LineLogger {
  let child: Logger | undefined;
  const at = (level: "info" | "warn" | "error"): LogFn =>
    ((...args: unknown[]) => {
      if (!logger.isLevelEnabled(level)) return;
      child ??= logger.child(bindings);
      (child[level] as (...line: unknown[]) => void)(...args);
    }) as LogFn;
  return { info: at("info"), warn: at("warn"), error: at("error") };
}

export function withCorrelation(
  logger: Logger,
  correlationId: string,
  fields: Record<string, unknown> = {},
): Logger {
  return logger.child({ correlationId, ...fields });
}

/** The log fields of a span: the names OpenTelemetry's log data model uses. */
export function traceFields(ref: SpanRef): { trace_id: string; span_id: string } {
  return { trace_id: ref.traceId, span_id: ref.spanId };
}

/**
 * A pino mixin that adds the active span's ids to each line (nothing when no
 * span is active). A new object every time: pino merges the line's own
 * fields into what the mixin returns.
 */
export function traceMixin(tracing: Tracing): () => Record<string, string> {
  return () => {
    const ref = tracing.active();
    return ref ? traceFields(ref) : {};
  };
}

/** A child logger bound to one span, for code that logs about a span outside of it. */
export function withSpan(logger: Logger, ref: SpanRef | undefined): Logger {
  return isValidRef(ref) ? logger.child(traceFields(ref)) : logger;
}
