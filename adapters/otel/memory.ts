import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { RedactingExporter } from "./redact.ts";
import { OtelTracing } from "./tracing.ts";

export interface InMemoryTracing {
  tracing: OtelTracing;
  /** The spans ended so far, as an OTLP collector would have received them (redacted). */
  spans(): ReadableSpan[];
  reset(): void;
}

/**
 * The real SDK with every span kept in memory as soon as it ends, behind the
 * same redacting exporter production uses: for tests and for the demo, which
 * shows the last command's trace without a collector.
 */
export function inMemoryTracing(serviceName = "labops"): InMemoryTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }),
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new SimpleSpanProcessor({ exporter: new RedactingExporter(exporter) })],
  });
  return {
    tracing: new OtelTracing({ provider }),
    spans: () => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
  };
}
