import { describe, expect, it } from "vitest";
import { readTracingConfig } from "../../adapters/otel/config.ts";
import { createTracing } from "../../adapters/otel/setup.ts";
import { NO_TRACING } from "../../src/ports/tracing.ts";

describe("the OTEL_* variables", () => {
  it("leave tracing off when nothing says to export", () => {
    const config = readTracingConfig({ OTEL_SERVICE_NAME: "labops-web", OTEL_TRACES_SAMPLER: "always_on" });
    expect(config.enabled).toBe(false);
    expect(createTracing({}).tracing).toBe(NO_TRACING);
  });

  it("are off whatever else is set with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" };
    expect(readTracingConfig({ ...endpoint, OTEL_SDK_DISABLED: "TRUE" })).toMatchObject({ enabled: false });
    expect(readTracingConfig({ ...endpoint, OTEL_TRACES_EXPORTER: "none" })).toMatchObject({
      enabled: false,
    });
    expect(createTracing({ ...endpoint, OTEL_SDK_DISABLED: "true" }).tracing).toBe(NO_TRACING);
  });

  it("export over http/protobuf to the general endpoint plus /v1/traces, with the defaults of the specification", () => {
    const config = readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" });
    expect(config).toMatchObject({
      enabled: true,
      serviceName: "labops",
      sampler: { kind: "parentbased_always_on" },
      batch: {
        scheduledDelayMillis: 5000,
        exportTimeoutMillis: 30000,
        maxQueueSize: 2048,
        maxExportBatchSize: 512,
      },
      otlp: { protocol: "http/protobuf", url: "http://collector:4318/v1/traces", headers: {} },
      console: false,
      warnings: [],
    });
  });

  it("take the traces endpoint as given, http/json, headers, timeout, compression, sampler and batch settings", () => {
    const config = readTracingConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://ignored:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://otlp.example/custom/traces",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_HEADERS: "api-key=abc%3D%3D,x-tenant=lab",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-tenant=ops",
      OTEL_EXPORTER_OTLP_TIMEOUT: "2500",
      OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
      OTEL_SERVICE_NAME: "labops-worker",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=prod,service.name=other",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
      OTEL_BSP_SCHEDULE_DELAY: "200",
      OTEL_BSP_MAX_QUEUE_SIZE: "100",
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "50",
      OTEL_BSP_EXPORT_TIMEOUT: "1000",
    });
    expect(config).toMatchObject({
      enabled: true,
      serviceName: "labops-worker",
      resourceAttributes: { "deployment.environment.name": "prod" },
      sampler: { kind: "parentbased_traceidratio", ratio: 0.25 },
      batch: {
        scheduledDelayMillis: 200,
        exportTimeoutMillis: 1000,
        maxQueueSize: 100,
        maxExportBatchSize: 50,
      },
      otlp: {
        protocol: "http/json",
        url: "https://otlp.example/custom/traces",
        headers: { "api-key": "abc==", "x-tenant": "ops" },
        timeoutMillis: 2500,
        compression: "gzip",
      },
      warnings: [],
    });
  });

  it("turn a wrong value into a warning and the default, never into a failure, and never echo a header", () => {
    const config = readTracingConfig({
      OTEL_TRACES_EXPORTER: "otlp,zipkin",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_EXPORTER_OTLP_HEADERS: "novalue,api-key=%E0%A4%A",
      OTEL_TRACES_SAMPLER: "jaeger_remote",
      OTEL_BSP_MAX_QUEUE_SIZE: "lots",
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "4096",
    });
    expect(config.enabled).toBe(true);
    if (!config.enabled) return;
    expect(config.otlp).toMatchObject({ protocol: "http/protobuf", url: "http://localhost:4318/v1/traces" });
    expect(config.sampler).toEqual({ kind: "parentbased_always_on" });
    expect(config.batch).toMatchObject({ maxQueueSize: 2048, maxExportBatchSize: 2048 });
    expect(config.warnings).toHaveLength(7);
    expect(config.warnings.join("\n")).not.toContain("%E0");
  });

  it("reach the warn callback through createTracing", async () => {
    const warned: string[] = [];
    const quiet = createTracing(
      { OTEL_TRACES_EXPORTER: "otlp", OTEL_TRACES_SAMPLER_ARG: "x" },
      { warn: (w) => warned.push(w) },
    );
    expect(quiet.tracing.enabled).toBe(true);
    expect(warned).toEqual([]);
    const loud = createTracing(
      { OTEL_TRACES_EXPORTER: "otlp", OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" },
      { warn: (w) => warned.push(w) },
    );
    expect(warned).toEqual(['OTEL_TRACES_SAMPLER_ARG: "2" is not a ratio between 0 and 1; using 1']);
    await Promise.all([quiet.tracing.shutdown(), loud.tracing.shutdown()]);
  });
});
