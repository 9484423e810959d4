import {
  type Context,
  createContextKey,
  defaultTextMapGetter,
  defaultTextMapSetter,
  context as globalContext,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  SpanKind as OtelSpanKind,
  type SpanOptions as OtelSpanOptions,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { hrTimeToMilliseconds, millisToHrTime, W3CTraceContextPropagator } from "@opentelemetry/core";
import type { TracerProvider } from "@opentelemetry/sdk-trace";
import { errorCode, LabopsError } from "../../src/errors.ts";
import type {
  SpanAttributes,
  SpanKind,
  SpanOptions,
  SpanRef,
  TraceCarrier,
  TraceSpan,
  Tracing,
} from "../../src/ports/tracing.ts";
import { liveAttributes, safeAttributes, scrubText } from "./redact.ts";

const KINDS: Record<SpanKind, OtelSpanKind> = {
  internal: OtelSpanKind.INTERNAL,
  server: OtelSpanKind.SERVER,
  client: OtelSpanKind.CLIENT,
  producer: OtelSpanKind.PRODUCER,
  consumer: OtelSpanKind.CONSUMER,
};

/** OpenTelemetry's key for the span in a context, as the API sets it (read from trace.setSpan, not copied). */
const SPAN_KEY: symbol = (() => {
  let key: symbol | undefined;
  const probe: Context = {
    getValue: () => undefined,
    setValue: (k) => {
      key = k;
      return probe;
    },
    deleteValue: () => probe,
  };
  trace.setSpan(probe, trace.wrapSpanContext(INVALID_SPAN_CONTEXT));
  if (key === undefined) throw new Error("@opentelemetry/api's trace.setSpan set no context value");
  return key;
})();

/** Where a span this adapter started keeps its ref: in the context that holds the span. */
const REF_KEY = createContextKey("labops.span_ref");

/** A context made on top of another: whatever is set on it, or deleted, chains on (ChainedContext). */
abstract class DerivedContext implements Context {
  abstract getValue(key: symbol): unknown;

  setValue(key: symbol, value: unknown): Context {
    return new ChainedContext(this, key, value);
  }

  deleteValue(key: symbol): Context {
    return new ChainedContext(this, key, undefined);
  }
}

/**
 * A context that adds one value to its parent without copying it. The API's
 * own contexts copy their whole Map and make three closures for every value
 * set, and each span this adapter starts sets two (the span, its ref); on the
 * acknowledgement's path that was most of the garbage a span left. Reads walk
 * up the chain, which is as long as the nesting of spans. A deleted key is
 * shadowed by undefined, which is what reading a missing key gives.
 */
class ChainedContext extends DerivedContext {
  readonly #parent: Context;
  readonly #key: symbol;
  readonly #value: unknown;

  constructor(parent: Context, key: symbol, value: unknown) {
    super();
    this.#parent = parent;
    this.#key = key;
    this.#value = value;
  }

  getValue(key: symbol): unknown {
    return key === this.#key ? this.#value : this.#parent.getValue(key);
  }
}

/** `parent` with `span` active and its ref beside it: one object, where the API would make two contexts. */
class SpanRefContext extends DerivedContext {
  readonly #parent: Context;
  readonly #span: Span;
  readonly #ref: OtelSpanRef;

  constructor(parent: Context, span: Span, ref: OtelSpanRef) {
    super();
    this.#parent = parent;
    this.#span = span;
    this.#ref = ref;
  }

  getValue(key: symbol): unknown {
    if (key === SPAN_KEY) return this.#span;
    if (key === REF_KEY) return this.#ref;
    return this.#parent.getValue(key);
  }
}

/**
 * A SpanRef this adapter handed out, with the OpenTelemetry context behind it
 * (so a ref can be made active again) in a private field: no WeakMap keyed by
 * ref, whose entries the garbage collector treats as ephemerons, on every span.
 */
class OtelSpanRef implements SpanRef {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
  /** Whether the ids are a real span's (not the all-zero ones of a span made while tracing is suppressed). */
  readonly valid: boolean;
  #context: Context = ROOT_CONTEXT;

  private constructor(sc: SpanContext) {
    this.traceId = sc.traceId;
    this.spanId = sc.spanId;
    this.sampled = (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
    this.valid = isSpanContextValid(sc);
  }

  /** The ref of `span`; the context kept is `parent` with the span and the ref set. */
  static of(span: Span, parent: Context): OtelSpanRef {
    const ref = new OtelSpanRef(span.spanContext());
    ref.#context = new SpanRefContext(parent, span, ref);
    Object.freeze(ref);
    return ref;
  }

  static contextOf(ref: SpanRef): Context | undefined {
    return #context in ref ? ref.#context : undefined;
  }
}

/** One ref per span made active by others (an SDK's instrumentation, an extracted parent). */
const foreignRefs = new WeakMap<Span, SpanRef>();

/** The ref of the span `ctx` holds, if a valid one: found in `ctx` when this adapter started it, else made once. */
function refFor(span: Span, ctx: Context): SpanRef | undefined {
  const sc = span.spanContext();
  const own = ctx.getValue(REF_KEY) as OtelSpanRef | undefined;
  if (own !== undefined && own.spanId === sc.spanId) return own.valid ? own : undefined;
  if (!isSpanContextValid(sc)) return undefined;
  let ref = foreignRefs.get(span);
  if (!ref) {
    ref = OtelSpanRef.of(span, ctx);
    foreignRefs.set(span, ref);
  }
  return ref;
}

/** Epoch ms as the SDK's time: a number would be read as performance.now() when it predates the process. */
const hrTime = (ms: number | undefined) => (ms === undefined ? undefined : millisToHrTime(ms));

class OtelTraceSpan implements TraceSpan {
  readonly ref: SpanRef;
  readonly recording: boolean;
  readonly #span: Span;
  #ended = false;

  constructor(span: Span, parent: Context) {
    this.#span = span;
    this.recording = span.isRecording();
    // The span's context carries its ref, so that active() finds it without a look-up table.
    this.ref = OtelSpanRef.of(span, parent);
  }

  setAttributes(attributes: SpanAttributes): void {
    if (this.recording) this.#span.setAttributes(liveAttributes(attributes));
  }

  addEvent(name: string, attributes?: SpanAttributes, time?: number): void {
    if (this.recording) this.#span.addEvent(scrubText(name), liveAttributes(attributes), hrTime(time));
  }

  recordError(error: unknown): void {
    if (!this.recording) return;
    const code = errorCode(error);
    const type = error instanceof Error ? error.name : typeof error;
    // Messages of labops's own errors are written to be shown; others are cut short. Both are scrubbed.
    const raw = error instanceof Error ? error.message : "";
    const message = scrubText(error instanceof LabopsError ? raw : raw.slice(0, 300));
    this.#span.addEvent(
      "exception",
      safeAttributes({ "exception.type": type, "exception.message": message, "error.type": code }),
    );
    this.#span.setAttribute("error.type", code);
    this.#span.setStatus({ code: SpanStatusCode.ERROR, message: `${code}: ${message}`.slice(0, 500) });
  }

  setStatus(status: "ok" | "error", message?: string): void {
    if (!this.recording) return;
    this.#span.setStatus(
      status === "ok"
        ? { code: SpanStatusCode.OK }
        : { code: SpanStatusCode.ERROR, ...(message === undefined ? {} : { message: scrubText(message) }) },
    );
  }

  end(endTime?: number): number | undefined {
    if (this.#ended) return undefined;
    this.#ended = true;
    this.#span.end(hrTime(endTime));
    // The SDK's span keeps its end time (ReadableSpan.endTime); a non-recording one has none.
    const ended = (this.#span as { endTime?: unknown }).endTime;
    return Array.isArray(ended) && ended[0] > 0 ? hrTimeToMilliseconds(ended as [number, number]) : undefined;
  }
}

export interface OtelTracingOptions {
  provider: TracerProvider;
  /** The instrumentation scope's name and version (labops's own). */
  scope?: { name: string; version?: string };
  /**
   * Also install the context manager, the tracer provider and the W3C
   * propagator as OpenTelemetry's globals, so a library instrumented against
   * the OpenTelemetry API joins labops's traces. Once per process (the
   * composition root); tests keep their tracing private.
   */
  registerGlobal?: boolean;
}

/** The Tracing port on the OpenTelemetry SDK. */
export class OtelTracing implements Tracing {
  readonly enabled = true;
  readonly provider: TracerProvider;
  readonly #tracer: Tracer;
  readonly #contextManager = new AsyncLocalStorageContextManager();
  readonly #propagator = new W3CTraceContextPropagator();
  readonly #global: boolean;

  constructor(options: OtelTracingOptions) {
    this.provider = options.provider;
    this.#tracer = options.provider.getTracer(
      options.scope?.name ?? "labops",
      options.scope?.version ?? "0.1.0",
    );
    this.#contextManager.enable();
    this.#global = options.registerGlobal ?? false;
    if (this.#global) {
      globalContext.setGlobalContextManager(this.#contextManager);
      trace.setGlobalTracerProvider(options.provider);
      propagation.setGlobalPropagator(this.#propagator);
    }
  }

  #contextOf(ref: SpanRef): Context {
    const known = OtelSpanRef.contextOf(ref);
    if (known) return known;
    const sc: SpanContext = {
      traceId: ref.traceId,
      spanId: ref.spanId,
      traceFlags: ref.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
      isRemote: true,
    };
    return isSpanContextValid(sc) ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
  }

  startSpan(name: string, options: SpanOptions = {}): TraceSpan {
    const parent =
      options.parent === null
        ? ROOT_CONTEXT
        : options.parent === undefined
          ? this.#contextManager.active()
          : this.#contextOf(options.parent);
    // Built field by field: no object spread per span. No `root: true` with parent null: the root
    // context holds no span, and the SDK would copy it to delete the span it does not hold.
    const otelOptions: OtelSpanOptions = { kind: KINDS[options.kind ?? "internal"] };
    if (options.attributes !== undefined) otelOptions.attributes = liveAttributes(options.attributes);
    if (options.links !== undefined && options.links.length > 0) {
      const links = options.links
        .map((l) => trace.getSpanContext(this.#contextOf(l)))
        .filter((sc): sc is SpanContext => sc !== undefined && isSpanContextValid(sc))
        .map((sc) => ({ context: sc }));
      if (links.length > 0) otelOptions.links = links;
    }
    if (options.startTime !== undefined) otelOptions.startTime = millisToHrTime(options.startTime);
    return new OtelTraceSpan(this.#tracer.startSpan(name, otelOptions, parent), parent);
  }

  withActive<T>(ref: SpanRef | undefined, fn: () => T): T {
    return ref ? this.#contextManager.with(this.#contextOf(ref), fn) : fn();
  }

  active(): SpanRef | undefined {
    const ctx = this.#contextManager.active();
    const span = trace.getSpan(ctx);
    return span ? refFor(span, ctx) : undefined;
  }

  inject(carrier: TraceCarrier, ref?: SpanRef): void {
    const ctx = ref ? this.#contextOf(ref) : this.#contextManager.active();
    this.#propagator.inject(ctx, carrier, defaultTextMapSetter);
  }

  extract(carrier: TraceCarrier | undefined): SpanRef | undefined {
    if (!carrier || typeof carrier.traceparent !== "string") return undefined;
    const ctx = this.#propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
    const span = trace.getSpan(ctx);
    return span ? refFor(span, ctx) : undefined;
  }

  /** Exports what is buffered now (tests; the demo before it reads its spans). */
  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
    this.#contextManager.disable();
    if (this.#global) {
      trace.disable();
      propagation.disable();
      globalContext.disable();
    }
  }
}
