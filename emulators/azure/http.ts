import type { IncomingMessage, ServerResponse } from "node:http";

/** A response a handler returns; the server adds the common headers. */
export interface EmulatorResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * An error in the shape Azure answers with: `{"error":{"code","message"}}`,
 * plus Key Vault's `innererror` when it has one.
 */
export class AzureHttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  readonly innerCode: string | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { headers?: Record<string, string>; innerCode?: string } = {},
  ) {
    super(message);
    this.name = "AzureHttpError";
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
    this.innerCode = options.innerCode;
  }

  toResponse(): EmulatorResponse {
    const error: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.innerCode) error.innererror = { code: this.innerCode };
    return { status: this.status, body: { error }, headers: this.headers };
  }
}

/** 1 MiB is far above anything the SDKs send; the cap only protects the emulator. */
const MAX_BODY_BYTES = 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > MAX_BODY_BYTES) {
      throw new AzureHttpError(413, "RequestEntityTooLarge", "The request body is too large.");
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Parses a JSON request body. The message never quotes the body: it may hold
 * a secret value.
 */
export function parseJsonBody(text: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AzureHttpError(
      400,
      "InvalidRequestContent",
      "The request content was invalid and could not be deserialized: the body is not valid JSON.",
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AzureHttpError(
      400,
      "InvalidRequestContent",
      "The request content was invalid and could not be deserialized: a JSON object was expected.",
    );
  }
  return value as Record<string, unknown>;
}

/**
 * Splits a request target into path and query without `new URL(target, base)`,
 * which reads `//subscriptions/...` (what the authorization client sends for
 * a scope with a leading slash) as a host name.
 */
export function splitTarget(target: string | undefined): { pathname: string; query: URLSearchParams } {
  const raw = target ?? "/";
  const q = raw.indexOf("?");
  return {
    pathname: q >= 0 ? raw.slice(0, q) : raw,
    query: new URLSearchParams(q >= 0 ? raw.slice(q + 1) : ""),
  };
}

/** ARM tolerates `//subscriptions/...` (the authorization client sends a scope with a leading slash). */
export function normalizePath(pathname: string): string {
  const collapsed = pathname.replace(/^\/{2,}/, "/");
  return collapsed.length > 1 && collapsed.endsWith("/") ? collapsed.slice(0, -1) : collapsed;
}

export function send(
  res: ServerResponse,
  response: EmulatorResponse,
  extraHeaders: Record<string, string> = {},
) {
  const headers: Record<string, string> = { ...extraHeaders, ...response.headers };
  let payload: string | undefined;
  if (response.body !== undefined && response.status !== 204) {
    payload = JSON.stringify(response.body);
    headers["content-type"] ??= "application/json; charset=utf-8";
  }
  headers["content-length"] = String(payload ? Buffer.byteLength(payload) : 0);
  res.writeHead(response.status, headers);
  res.end(payload);
}

export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

export function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function asStringRecord(value: unknown): Record<string, string> | undefined {
  const rec = asRecord(value);
  if (!rec) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec)) {
    if (typeof v === "string") out[k] = v;
  }
  return out;
}
