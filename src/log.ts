import { randomBytes } from "node:crypto";
import { type DestinationStream, type Logger, pino } from "pino";

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
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { service: "labops", ...options.base },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}

/** A short id that follows one command from chat through its job to every reply and alert. */
export function newCorrelationId(): string {
  return `c-${randomBytes(6).toString("hex")}`;
}

export function withCorrelation(
  logger: Logger,
  correlationId: string,
  fields: Record<string, unknown> = {},
): Logger {
  return logger.child({ correlationId, ...fields });
}
