import {
  type Instrumenter,
  type InstrumenterSpanOptions,
  type SpanStatus,
  type TracingContext,
  type TracingSpan,
  type TracingSpanKind,
  useInstrumenter,
} from "@azure/core-tracing";
import {
  type AttributeValue,
  NO_TRACING,
  type SpanAttributes,
  type SpanRef,
  type TraceSpan,
  type Tracing,
} from "../../src/ports/tracing.ts";

/**
 * The Azure SDKs' own spans, on the Tracing port. `@azure/core-tracing` asks
 * its process-wide Instrumenter for every span: the pipeline's `HTTP <method>`
 * client span per attempt (URL sanitised by the SDK, status, request ids),
 * Key Vault's `SecretClient.*` and Identity's `*Credential.getToken`. labops
 * installs one built on its Tracing port (docs/adr/0008: the OpenTelemetry
 * instrumentation package cannot patch the ESM build), so those spans join
 * the step that made the call and pass the same redaction as labops's own.
 */

/** Where our instrumenter keeps the span's ref in an Azure TracingContext. */
const REF = Symbol.for("labops span ref");
/** The key `@azure/core-tracing` itself reads the span from (knownContextKeys.span). */
const AZURE_SPAN = Symbol.for("@azure/core-tracing span");

/** An immutable TracingContext: each setValue returns a new one. */
class Context implements TracingContext {
  readonly #values: ReadonlyMap<symbol, unknown>;
  constructor(values: ReadonlyMap<symbol, unknown> = new Map()) {
    this.#values = values;
  }
  setValue(key: symbol, value: unknown): TracingContext {
    return new Context(new Map(this.#values).set(key, value));
  }
  getValue(key: symbol): unknown {
    return this.#values.get(key);
  }
  deleteValue(key: symbol): TracingContext {
    const values = new Map(this.#values);
    values.delete(key);
    return new Context(values);
  }
}

const refOf = (context: TracingContext | undefined): SpanRef | undefined =>
  context?.getValue(REF) as SpanRef | undefined;

function attributeValue(value: unknown): AttributeValue | undefined {
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value as string[];
  return undefined;
}

function attributes(raw: Record<string, unknown> | undefined): SpanAttributes {
  const out: Record<string, AttributeValue | undefined> = {};
  for (const [key, value] of Object.entries(raw ?? {})) out[key] = attributeValue(value);
  return out;
}

class AzureSpan implements TracingSpan {
  readonly #span: TraceSpan;
  constructor(span: TraceSpan) {
    this.#span = span;
  }
  setStatus(status: SpanStatus): void {
    if (status.status === "success") this.#span.setStatus("ok");
    else if (status.error !== undefined) this.#span.recordError(status.error);
    else this.#span.setStatus("error");
  }
  setAttribute(name: string, value: unknown): void {
    this.#span.setAttributes({ [name]: attributeValue(value) });
  }
  end(): void {
    this.#span.end();
  }
  recordException(exception: Error | string): void {
    this.#span.recordError(exception);
  }
  isRecording(): boolean {
    return this.#span.recording;
  }
  addEvent(name: string, options?: { attributes?: Record<string, unknown>; startTime?: Date }): void {
    this.#span.addEvent(name, attributes(options?.attributes), options?.startTime?.getTime());
  }
}

const NOT_RECORDING = new AzureSpan(NO_TRACING.startSpan("azure"));

const KINDS: Record<TracingSpanKind, TracingSpanKind> = {
  client: "client",
  server: "server",
  producer: "producer",
  consumer: "consumer",
  internal: "internal",
};

/** An Instrumenter for `@azure/core-tracing` that starts its spans through `tracing`. */
export function portInstrumenter(tracing: Tracing): Instrumenter {
  return {
    startSpan(name: string, options: InstrumenterSpanOptions) {
      // The parent: the SDK's context when it carries one of our spans, else the span active here.
      // A call outside any trace (the watcher's vault polls) is not traced: it would be a trace of its own
      // every few seconds, with nothing to tell about.
      const parent = refOf(options.tracingContext);
      if (!parent && !tracing.active()) {
        return { span: NOT_RECORDING, tracingContext: options.tracingContext ?? new Context() };
      }
      const links = (options.spanLinks ?? [])
        .map((l) => refOf(l.tracingContext))
        .filter((r): r is SpanRef => r !== undefined);
      const span = tracing.startSpan(name, {
        kind: KINDS[options.spanKind ?? "internal"] ?? "internal",
        attributes: { ...attributes(options.spanAttributes), "az.sdk.package": options.packageName },
        ...(parent ? { parent } : {}),
        ...(links.length > 0 ? { links } : {}),
      });
      const azureSpan = new AzureSpan(span);
      const base = options.tracingContext ?? new Context();
      return {
        span: azureSpan,
        tracingContext: base.setValue(REF, span.ref).setValue(AZURE_SPAN, azureSpan),
      };
    },
    withContext(context, callback, ...callbackArgs) {
      return tracing.withActive(refOf(context), () => callback(...callbackArgs));
    },
    parseTraceparentHeader(traceparentHeader: string) {
      const ref = tracing.extract({ traceparent: traceparentHeader });
      return ref ? new Context().setValue(REF, ref) : undefined;
    },
    createRequestHeaders(context?: TracingContext) {
      // W3C trace context on every request, as the SDK's OpenTelemetry instrumentation sends it.
      const headers: Record<string, string> = {};
      const ref = refOf(context);
      if (ref?.sampled) tracing.inject(headers, ref);
      return headers;
    },
  };
}

/**
 * Installs `portInstrumenter(tracing)` for every Azure client of the process.
 * `@azure/core-tracing` keeps one instrumenter per process: the last call
 * wins (tests that build several worlds in one process trace the last one's).
 * With tracing off it is one on NO_TRACING, whose spans do not record, so
 * the pipeline skips them (and a tracer of an earlier world is let go).
 */
export function traceAzureSdk(tracing: Tracing): void {
  useInstrumenter(portInstrumenter(tracing));
}
