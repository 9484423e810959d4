/**
 * Traces: one per command, from the chat request through intake, the queue,
 * the worker and each plan step down to the Azure and Kubernetes calls and the
 * chat answers; one per rotation, hop by hop, with the hop times as span
 * times. The core starts spans through this port only: the OpenTelemetry SDK
 * is behind it in adapters/otel, and the default, NO_TRACING, does nothing at
 * the cost of a few calls per span (docs/adr/0008-dependencies-and-tracing.md).
 *
 * Attributes carry names, kinds, ids, counts and outcomes: never a secret
 * value, a token, a password or a signature. The adapter drops such keys and
 * any SecretValue again before anything is exported, but a caller never
 * offers them in the first place.
 */

export type SpanKind = "internal" | "server" | "client" | "producer" | "consumer";

export type AttributeValue =
  | string
  | number
  | boolean
  | readonly string[]
  | readonly number[]
  | readonly boolean[];

/** `undefined` entries are skipped, so optional facts can be written inline. */
export type SpanAttributes = Readonly<Record<string, AttributeValue | undefined>>;

/** A span's place in its trace: enough to parent or link another span to it, or to print in a log line. */
export interface SpanRef {
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** 16 lowercase hex digits. */
  readonly spanId: string;
  readonly sampled: boolean;
}

/**
 * W3C trace context (`traceparent`, and `tracestate` when there is one) as a
 * plain record, so it can travel in job data and be read back by a worker,
 * in another process and after any number of resumes.
 */
export type TraceCarrier = Record<string, string>;

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: SpanAttributes;
  /** The parent: the active span when absent; `null` starts a new trace. */
  parent?: SpanRef | null | undefined;
  /** Spans this one follows from without being their child (a rotation and the command that wrote it). */
  links?: readonly SpanRef[];
  /** Epoch ms, for a span whose start is known after the fact (a rotation's hops). */
  startTime?: number;
}

export interface TraceSpan {
  readonly ref: SpanRef;
  /** False for the no-op span and for spans the sampler dropped: attributes that cost work can be skipped. */
  readonly recording: boolean;
  setAttributes(attributes: SpanAttributes): void;
  addEvent(name: string, attributes?: SpanAttributes, time?: number): void;
  /** Marks the span failed: the error's code, class and (scrubbed) message; never its stack or data. */
  recordError(error: unknown): void;
  setStatus(status: "ok" | "error", message?: string): void;
  /**
   * Ends the span, at `endTime` (epoch ms) when given; a second call does
   * nothing. Returns the time it ended at (epoch ms) when it records one, so
   * a parent ended after it can end no earlier (the SDK ends spans on two
   * clocks: its wall clock for spans given a start time, sub-millisecond
   * performance time for the others).
   */
  end(endTime?: number): number | undefined;
}

export interface Tracing {
  /** False for NO_TRACING: callers may skip work that only feeds spans. */
  readonly enabled: boolean;
  startSpan(name: string, options?: SpanOptions): TraceSpan;
  /**
   * Runs `fn` with `ref` as the active span: spans started inside it (an
   * SDK's own included) become its children, and log lines written inside it
   * carry its ids. `undefined` runs `fn` as it is.
   */
  withActive<T>(ref: SpanRef | undefined, fn: () => T): T;
  /** The active span, if any. */
  active(): SpanRef | undefined;
  /** Writes `ref` (the active span when absent) into `carrier` as W3C trace context; nothing when there is none. */
  inject(carrier: TraceCarrier, ref?: SpanRef): void;
  /** Reads what `inject` wrote; undefined when the carrier is absent, empty or malformed. */
  extract(carrier: TraceCarrier | undefined): SpanRef | undefined;
  /** Exports what is still buffered and stops; the composition root calls it at shutdown. */
  shutdown(): Promise<void>;
}

const INVALID_REF: SpanRef = Object.freeze({
  traceId: "00000000000000000000000000000000",
  spanId: "0000000000000000",
  sampled: false,
});

const NOOP_SPAN: TraceSpan = Object.freeze({
  ref: INVALID_REF,
  recording: false,
  setAttributes: () => undefined,
  addEvent: () => undefined,
  recordError: () => undefined,
  setStatus: () => undefined,
  end: () => undefined,
});

/** No tracing: every span is one shared no-op object, nothing is allocated or kept. */
export const NO_TRACING: Tracing = Object.freeze({
  enabled: false,
  startSpan: () => NOOP_SPAN,
  withActive: <T>(_ref: SpanRef | undefined, fn: () => T): T => fn(),
  active: () => undefined,
  inject: () => undefined,
  extract: () => undefined,
  shutdown: async () => undefined,
});

/** A real span reference (not the all-zero one of NO_TRACING's span). */
export function isValidRef(ref: SpanRef | undefined | null): ref is SpanRef {
  return (
    ref !== undefined &&
    ref !== null &&
    /^[0-9a-f]{32}$/.test(ref.traceId) &&
    /^[0-9a-f]{16}$/.test(ref.spanId) &&
    ref.traceId !== INVALID_REF.traceId &&
    ref.spanId !== INVALID_REF.spanId
  );
}

/**
 * Runs `fn` in a new span that is active while it runs, and ends it: with
 * the error recorded when `fn` throws (the error is rethrown as it was).
 */
export async function inSpan<T>(
  tracing: Tracing,
  name: string,
  options: SpanOptions,
  fn: (span: TraceSpan) => Promise<T>,
): Promise<T> {
  const span = tracing.startSpan(name, options);
  try {
    return await tracing.withActive(span.ref, () => fn(span));
  } catch (error) {
    span.recordError(error);
    throw error;
  } finally {
    span.end();
  }
}

/** A carrier for the active span (or `ref`), or undefined when tracing is off or nothing is active. */
export function carrierOf(tracing: Tracing, ref?: SpanRef): TraceCarrier | undefined {
  if (!tracing.enabled) return undefined;
  const carrier: TraceCarrier = {};
  tracing.inject(carrier, ref);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}
