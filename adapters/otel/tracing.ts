import {
  type Context,
  createContextKey,
  defaultTextMapGetter,
  defaultTextMapSetter,
  context as globalContext,
  isSpanContextValid,
  SpanKind as OtelSpanKind,
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
import { millisToHrTime, W3CTraceContextPropagator } from "@opentelemetry/core";
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

/**
 * A SpanRef this adapter handed out, with the OpenTelemetry context behind it
 * (so a ref can be made active again) in a private field: no WeakMap keyed by
 * ref, whose entries the garbage collector treats as ephemerons, on every span.
 */
class OtelSpanRef implements SpanRef {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
  #context: Context = ROOT_CONTEXT;

  private constructor(sc: SpanContext) {
    this.traceId = sc.traceId;
    this.spanId = sc.spanId;
    this.sampled = (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
  }

  /** The ref of `span`, which `ctx` holds; the context kept is `ctx` holding the ref as well. */
  static of(span: Span, ctx: Context): OtelSpanRef {
    const ref = new OtelSpanRef(span.spanContext());
    ref.#context = ctx.setValue(REF_KEY, ref);
    Object.freeze(ref);
    return ref;
  }

  static contextOf(ref: SpanRef): Context | undefined {
    return #context in ref ? ref.#context : undefined;
  }
}

/** Where a span this adapter started keeps its ref: in the context that holds the span. */
const REF_KEY = createContextKey("labops.span_ref");
/** One ref per span made active by others (an SDK's instrumentation, an extracted parent). */
const foreignRefs = new WeakMap<Span, SpanRef>();

/** The ref of the span `ctx` holds: found in `ctx` when this adapter started it, else made once. */
function refFor(span: Span, ctx: Context): SpanRef {
  const own = ctx.getValue(REF_KEY) as SpanRef | undefined;
  if (own !== undefined && own.spanId === span.spanContext().spanId) return own;
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
    this.ref = OtelSpanRef.of(span, trace.setSpan(parent, span));
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

  end(endTime?: number): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#span.end(hrTime(endTime));
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
    const links = options.links
      ?.map((l) => trace.getSpanContext(this.#contextOf(l)))
      .filter((sc): sc is SpanContext => sc !== undefined && isSpanContextValid(sc))
      .map((sc) => ({ context: sc }));
    const span = this.#tracer.startSpan(
      name,
      {
        kind: KINDS[options.kind ?? "internal"],
        attributes: liveAttributes(options.attributes),
        ...(links && links.length > 0 ? { links } : {}),
        ...(options.startTime === undefined ? {} : { startTime: millisToHrTime(options.startTime) }),
        ...(options.parent === null ? { root: true } : {}),
      },
      parent,
    );
    return new OtelTraceSpan(span, parent);
  }

  withActive<T>(ref: SpanRef | undefined, fn: () => T): T {
    return ref ? this.#contextManager.with(this.#contextOf(ref), fn) : fn();
  }

  active(): SpanRef | undefined {
    const ctx = this.#contextManager.active();
    const span = trace.getSpan(ctx);
    if (!span || !isSpanContextValid(span.spanContext())) return undefined;
    return refFor(span, ctx);
  }

  inject(carrier: TraceCarrier, ref?: SpanRef): void {
    const ctx = ref ? this.#contextOf(ref) : this.#contextManager.active();
    this.#propagator.inject(ctx, carrier, defaultTextMapSetter);
  }

  extract(carrier: TraceCarrier | undefined): SpanRef | undefined {
    if (!carrier || typeof carrier.traceparent !== "string") return undefined;
    const ctx = this.#propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
    const span = trace.getSpan(ctx);
    if (!span || !isSpanContextValid(span.spanContext())) return undefined;
    return refFor(span, ctx);
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
