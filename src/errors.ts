/**
 * Error classes carry a string `code` (as bolt-js does) so callers branch on
 * codes, never on messages, and every message says what to do next.
 */
export class LabopsError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad input from a chat user: shown to them as is, and nothing was changed. */
export class UserInputError extends LabopsError {
  constructor(message: string, code = "bad_input") {
    super(code, message);
  }
}

/** One problem with one configuration variable. */
export interface ConfigProblem {
  variable: string;
  message: string;
}

/** Start-up configuration is wrong: names every variable at fault and what to set. */
export class ConfigError extends LabopsError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    const n = problems.length;
    const lines = problems.map((p) => `  - ${p.variable}: ${p.message}`);
    super(
      "config_invalid",
      `labops cannot start: ${n} setting${n === 1 ? "" : "s"} need${n === 1 ? "s" : ""} attention.\n${lines.join("\n")}`,
    );
    this.problems = problems;
  }
}

/** A call to something outside (Azure, the cluster, chat) failed in a way worth telling the user. */
export class ExternalError extends LabopsError {
  readonly service: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  /** Worth trying again: throttling, a transient outage, a conflict that will clear, RBAC propagation. */
  readonly retryable: boolean;
  /** What the user can do about it, when there is something. */
  readonly hint: string | undefined;
  constructor(
    service: string,
    code: string,
    message: string,
    options: {
      status?: number;
      retryAfterMs?: number;
      retryable?: boolean;
      hint?: string;
      cause?: unknown;
    } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.service = service;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.retryable = options.retryable ?? false;
    this.hint = options.hint;
  }
}

/** Thrown when work stops because its AbortSignal fired (shutdown, cancellation). */
export class CancelledError extends LabopsError {
  constructor(message = "The work was cancelled before it finished; it resumes where it stopped.") {
    super("cancelled", message);
  }
}

export function isRetryable(error: unknown): boolean {
  return error instanceof ExternalError && error.retryable;
}

export function errorCode(error: unknown): string {
  if (error instanceof LabopsError) return error.code;
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return "internal";
}
