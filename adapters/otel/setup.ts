import { OTLPTraceExporter as OtlpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { NO_TRACING, type Tracing } from "../../src/ports/tracing.ts";
import {
  type Env,
  type OtlpConfig,
  readTracingConfig,
  type SamplerConfig,
  type TracingConfig,
} from "./config.ts";
import { RedactingExporter } from "./redact.ts";
import { OtelTracing } from "./tracing.ts";

export function samplerFor(config: SamplerConfig): Sampler {
  switch (config.kind) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(config.ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.ratio) });
  }
}

/** The OTLP/HTTP exporter for the configured protocol, every setting passed explicitly. */
type OtlpOptions = NonNullable<ConstructorParameters<typeof OtlpProtoExporter>[0]>;

export function otlpExporter(otlp: OtlpConfig): SpanExporter {
  const options: OtlpOptions = {
    url: otlp.url,
    headers: otlp.headers,
    ...(otlp.timeoutMillis === undefined ? {} : { timeoutMillis: otlp.timeoutMillis }),
    // CompressionAlgorithm is a string enum of these two values, in a package labops does not import.
    ...(otlp.compression === undefined
      ? {}
      : { compression: otlp.compression as NonNullable<OtlpOptions["compression"]> }),
  };
  return otlp.protocol === "http/json" ? new OtlpJsonExporter(options) : new OtlpProtoExporter(options);
}

export interface CreateTracingOptions {
  /** service.name when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES names one. */
  serviceName?: string;
  /** Resource attributes of this process (service.version, labops.role…); the environment's win. */
  resource?: Record<string, string>;
  /** See OtelTracingOptions.registerGlobal: true in the composition root only. */
  registerGlobal?: boolean;
  /** Told once about each ignored or wrong OTEL_* variable (never with a header value). */
  warn?: (message: string) => void;
}

export interface CreatedTracing {
  tracing: Tracing;
  config: TracingConfig;
}

/**
 * Tracing as the OTEL_* variables say: NO_TRACING unless they ask for an
 * exporter, else the SDK with a batch processor per exporter, each behind the
 * redacting exporter, so nothing secret leaves the process.
 */
export function createTracing(env: Env, options: CreateTracingOptions = {}): CreatedTracing {
  const config = readTracingConfig(env, options.serviceName ? { serviceName: options.serviceName } : {});
  for (const w of config.warnings) options.warn?.(w);
  if (!config.enabled) return { tracing: NO_TRACING, config };
  const exporters: SpanExporter[] = [];
  if (config.otlp) exporters.push(otlpExporter(config.otlp));
  if (config.console) exporters.push(new ConsoleSpanExporter());
  const spanProcessors: SpanProcessor[] = exporters.map(
    (exporter) => new BatchSpanProcessor({ exporter: new RedactingExporter(exporter), ...config.batch }),
  );
  const provider = new TracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({
        ...options.resource,
        ...config.resourceAttributes,
        [ATTR_SERVICE_NAME]: config.serviceName,
      }),
    ),
    sampler: samplerFor(config.sampler),
    spanProcessors,
  });
  return {
    tracing: new OtelTracing({ provider, ...(options.registerGlobal ? { registerGlobal: true } : {}) }),
    config,
  };
}
