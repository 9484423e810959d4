import type { Attributes, AttributeValue as OtelAttributeValue } from "@opentelemetry/api";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import type { SpanAttributes } from "../../src/ports/tracing.ts";
import { SecretValue } from "../../src/secret-value.ts";

/**
 * The last line of defence between a span and an OTLP collector: no secret
 * value and no credential in any attribute, event or status. Keys that name
 * one are dropped (whatever their value), SecretValue instances are dropped
 * (wherever they sit), and strings are scrubbed of what looks like a
 * credential (bearer tokens, Slack tokens, JWTs, signatures and keys in URL
 * queries, passwords in URLs). It runs twice: on what the core hands the port,
 * and on every span before export (the SDKs' own spans included).
 */

/** Words that make an attribute key a secret's, found anywhere in its last segment. */
const SECRET_WORDS = new Set([
  "value",
  "values",
  "token",
  "tokens",
  "password",
  "passwd",
  "pwd",
  "secret",
  "secrets",
  "authorization",
  "auth",
  "cookie",
  "cookies",
  "sealed",
  "signature",
  "sig",
  "credential",
  "credentials",
  "apikey",
  "key",
  "privatekey",
  "assertion",
  "bearer",
]);

/** A last word that says the attribute describes a secret rather than holds one. */
const DESCRIPTIVE_LAST_WORDS = new Set([
  "name",
  "names",
  "version",
  "versions",
  "id",
  "ids",
  "count",
  "kind",
  "type",
  "fingerprint",
  "source",
  "present",
]);

/** Words of a key's last dotted segment: `http.request.header.x-api-key` → x, api, key. */
function lastSegmentWords(key: string): string[] {
  const last = key.slice(key.lastIndexOf(".") + 1);
  return last
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "");
}

/** Keys seen so far: a span's keys are a few dozen names, asked about on every span. */
const secretKeys = new Map<string, boolean>();

/** Whether an attribute of this name may hold a secret or a credential (then it never leaves). */
export function isSecretKey(key: string): boolean {
  let secret = secretKeys.get(key);
  if (secret === undefined) {
    secret = judgeKey(key);
    // Bounded: keys made of data (never labops's own) cannot grow it without end.
    if (secretKeys.size >= 2_000) secretKeys.clear();
    secretKeys.set(key, secret);
  }
  return secret;
}

function judgeKey(key: string): boolean {
  const words = lastSegmentWords(key);
  if (words.length === 0) return false;
  const joined = words.join("");
  const named =
    words.some((w) => SECRET_WORDS.has(w)) || /apikey|clientsecret|accesstoken|privatekey/.test(joined);
  if (!named) return false;
  // "secret_name", "secretVersion", "token_count": facts about a secret, not the secret.
  const lastWord = words[words.length - 1] ?? "";
  return !(words.length > 1 && DESCRIPTIVE_LAST_WORDS.has(lastWord));
}

const REDACTED = "[redacted]";

const SCRUBBERS: ReadonlyArray<[RegExp, string]> = [
  // Authorization header values.
  [/\b(Bearer|Basic|Digest)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  // Slack tokens (bot, user, app-level, refresh, config).
  [/\bx(?:ox[abprse]|app)-[A-Za-z0-9-]{8,}/g, REDACTED],
  // JWTs (Entra, Bot Framework, federated tokens).
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // Password in a URL: scheme://user:password@host.
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]+@/gi, `$1${REDACTED}@`],
  // Credentials in a query string or a form body (SAS signatures, codes, secrets, keys).
  [
    /([?&;](?:sig|signature|code|token|access_token|refresh_token|id_token|client_secret|client_assertion|password|secret|key|api[-_]?key|se|sv|skoid|sktid|saoid)=)[^&#\s]*/gi,
    `$1${REDACTED}`,
  ],
];

/**
 * What each scrubber needs to find something: a string with none of these
 * (most attribute values: names, ids, kinds) is returned as it is after one
 * test instead of five replacements.
 */
const MAY_HOLD_CREDENTIAL = /bearer|basic|digest|xox|xapp|eyj|@|=/i;

/** A string with everything that looks like a credential replaced by "[redacted]". */
export function scrubText(text: string): string {
  if (!MAY_HOLD_CREDENTIAL.test(text)) return text;
  let out = text;
  for (const [pattern, replacement] of SCRUBBERS) out = out.replace(pattern, replacement);
  return out;
}

const MAX_STRING = 2_048;

function safeValue(value: unknown): OtelAttributeValue | undefined {
  if (value === undefined || value === null || value instanceof SecretValue) return undefined;
  if (typeof value === "string")
    return scrubText(value.length > MAX_STRING ? value.slice(0, MAX_STRING) : value);
  if (typeof value === "number" || typeof value === "boolean") return value;
  if (Array.isArray(value)) {
    // One secret in a list drops the list: a partial list would mislead.
    if (value.some((v) => v instanceof SecretValue)) return undefined;
    if (value.every((v) => typeof v === "string")) return value.map((v: string) => scrubText(v));
    if (value.every((v) => typeof v === "number")) return [...value] as number[];
    if (value.every((v) => typeof v === "boolean")) return [...value] as boolean[];
    return undefined;
  }
  // Objects (a SecretValue's look-alikes, Buffers, errors) are never attributes.
  return undefined;
}

/** The attributes that may leave the process: secret keys and values dropped, strings scrubbed. */
export function safeAttributes(attributes: SpanAttributes | Attributes | undefined): Attributes {
  const out: Attributes = {};
  if (!attributes) return out;
  for (const [key, value] of Object.entries(attributes)) {
    if (isSecretKey(key)) continue;
    const safe = safeValue(value);
    if (safe !== undefined) out[key] = safe;
  }
  return out;
}

/**
 * Whether `attributes` would leave safeAttributes() as they are (but for
 * undefined values, which the SDK drops itself): no secret key, no object or
 * list, no string to scrub or cut. Checked without allocating.
 */
function alreadySafe(attributes: SpanAttributes | Attributes): boolean {
  for (const key in attributes) {
    if (isSecretKey(key)) return false;
    const value = attributes[key];
    if (value === undefined) continue;
    if (typeof value === "string") {
      if (value.length > MAX_STRING || MAY_HOLD_CREDENTIAL.test(value)) return false;
    } else if (typeof value !== "number" && typeof value !== "boolean") return false;
  }
  return true;
}

/**
 * safeAttributes() for a span being recorded: `attributes` themselves when
 * nothing in them needs making safe (the common case, no copy), else the safe copy.
 */
export function liveAttributes(attributes: SpanAttributes | undefined): Attributes {
  if (!attributes) return {};
  // Only strings, numbers, booleans and undefined are left after alreadySafe(): OpenTelemetry's own types.
  return alreadySafe(attributes) ? (attributes as Attributes) : safeAttributes(attributes);
}

/** Whether a span has nothing safeSpan() would change (most of labops's own: ids, names, kinds). */
function spanAlreadySafe(span: ReadableSpan): boolean {
  if (MAY_HOLD_CREDENTIAL.test(span.name)) return false;
  if (span.status.message !== undefined && MAY_HOLD_CREDENTIAL.test(span.status.message)) return false;
  if (!alreadySafe(span.attributes)) return false;
  for (const event of span.events) if (event.attributes && !alreadySafe(event.attributes)) return false;
  for (const link of span.links) if (link.attributes && !alreadySafe(link.attributes)) return false;
  return true;
}

/**
 * The span that can be exported: the span itself when nothing in it needs
 * redacting (checked without copying), else a copy with its attributes,
 * events, links and status made safe.
 */
export function safeSpan(span: ReadableSpan): ReadableSpan {
  if (spanAlreadySafe(span)) return span;
  return {
    name: scrubText(span.name),
    kind: span.kind,
    spanContext: () => span.spanContext(),
    ...(span.parentSpanContext ? { parentSpanContext: span.parentSpanContext } : {}),
    startTime: span.startTime,
    endTime: span.endTime,
    status:
      span.status.message === undefined
        ? span.status
        : { ...span.status, message: scrubText(span.status.message) },
    attributes: safeAttributes(span.attributes),
    links: span.links.map((l) => ({ ...l, attributes: safeAttributes(l.attributes) })),
    events: span.events.map((e) => ({ ...e, attributes: safeAttributes(e.attributes) })),
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}

/** Wraps an exporter so that only safe copies of spans reach it. */
export class RedactingExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  constructor(inner: SpanExporter) {
    this.#inner = inner;
  }
  export(spans: ReadableSpan[], resultCallback: Parameters<SpanExporter["export"]>[1]): void {
    this.#inner.export(spans.map(safeSpan), resultCallback);
  }
  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}
