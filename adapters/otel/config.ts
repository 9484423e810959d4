/**
 * What the standard OpenTelemetry variables ask for, read from an `env` the
 * caller passes (process.env in production, a record in tests). Only the
 * variables of the OpenTelemetry specification are read; labops adds none
 * of its own. The SDK 3 trace packages read no environment themselves (that
 * moved to @opentelemetry/sdk-node, which labops does not use), so the
 * subset labops honours is interpreted here:
 * https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
 *
 * Tracing is off (NO_TRACING) unless something says to export: an OTLP
 * endpoint, or OTEL_TRACES_EXPORTER naming an exporter. OTEL_SDK_DISABLED=true
 * and OTEL_TRACES_EXPORTER=none turn it off whatever else is set.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export type OtlpProtocol = "http/protobuf" | "http/json";

export type SamplerConfig =
  | { kind: "always_on" | "always_off" | "parentbased_always_on" | "parentbased_always_off" }
  | { kind: "traceidratio" | "parentbased_traceidratio"; ratio: number };

export interface BatchConfig {
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
}

export interface OtlpConfig {
  protocol: OtlpProtocol;
  /** The full traces URL (…/v1/traces). */
  url: string;
  headers: Record<string, string>;
  timeoutMillis: number | undefined;
  compression: "gzip" | "none" | undefined;
}

export type TracingConfig =
  | { enabled: false; reason: string; warnings: string[] }
  | {
      enabled: true;
      serviceName: string;
      resourceAttributes: Record<string, string>;
      sampler: SamplerConfig;
      batch: BatchConfig;
      otlp: OtlpConfig | undefined;
      console: boolean;
      warnings: string[];
    };

export const DEFAULT_OTLP_ENDPOINT = "http://localhost:4318";
export const DEFAULT_BATCH: BatchConfig = {
  scheduledDelayMillis: 5_000,
  exportTimeoutMillis: 30_000,
  maxQueueSize: 2_048,
  maxExportBatchSize: 512,
};

const get = (env: Env, name: string): string | undefined => {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
};

/** `k1=v1,k2=v2` with percent-encoded values (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS). */
export function parseKeyValues(raw: string | undefined, warnings: string[], variable: string) {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const part of raw.split(",")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    const key = eq > 0 ? part.slice(0, eq).trim() : "";
    if (key === "") {
      warnings.push(`${variable}: an entry is not key=value and was ignored`);
      continue;
    }
    try {
      out[key] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      warnings.push(`${variable}: the value of ${key} is not percent-encoded properly and was ignored`);
    }
  }
  return out;
}

function positiveInt(env: Env, name: string, fallback: number, warnings: string[]): number {
  const raw = get(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (Number.isInteger(n) && n > 0) return n;
  warnings.push(`${name}: "${raw}" is not a positive integer; using ${fallback}`);
  return fallback;
}

function readSampler(env: Env, warnings: string[]): SamplerConfig {
  const name = (get(env, "OTEL_TRACES_SAMPLER") ?? "parentbased_always_on").toLowerCase();
  switch (name) {
    case "always_on":
    case "always_off":
    case "parentbased_always_on":
    case "parentbased_always_off":
      return { kind: name };
    case "traceidratio":
    case "parentbased_traceidratio": {
      const raw = get(env, "OTEL_TRACES_SAMPLER_ARG");
      const ratio = raw === undefined ? 1 : Number(raw);
      if (raw !== undefined && !(ratio >= 0 && ratio <= 1)) {
        warnings.push(`OTEL_TRACES_SAMPLER_ARG: "${raw}" is not a ratio between 0 and 1; using 1`);
        return { kind: name, ratio: 1 };
      }
      return { kind: name, ratio };
    }
    default:
      warnings.push(`OTEL_TRACES_SAMPLER: "${name}" is not supported; using parentbased_always_on`);
      return { kind: "parentbased_always_on" };
  }
}

function readOtlp(env: Env, warnings: string[]): OtlpConfig {
  const rawProtocol = (
    get(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ??
    get(env, "OTEL_EXPORTER_OTLP_PROTOCOL") ??
    "http/protobuf"
  ).toLowerCase();
  let protocol: OtlpProtocol = "http/protobuf";
  if (rawProtocol === "http/json") protocol = "http/json";
  else if (rawProtocol !== "http/protobuf") {
    warnings.push(
      `OTEL_EXPORTER_OTLP_PROTOCOL: "${rawProtocol}" is not supported (http/protobuf or http/json); using http/protobuf`,
    );
  }
  // The signal-specific endpoint is used as given; the general one gets /v1/traces appended.
  const specific = get(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const general = get(env, "OTEL_EXPORTER_OTLP_ENDPOINT") ?? DEFAULT_OTLP_ENDPOINT;
  let url = specific ?? `${general.replace(/\/+$/, "")}/v1/traces`;
  if (!URL.canParse(url)) {
    warnings.push(
      `${specific ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : "OTEL_EXPORTER_OTLP_ENDPOINT"}: not a URL; using ${DEFAULT_OTLP_ENDPOINT}`,
    );
    url = `${DEFAULT_OTLP_ENDPOINT}/v1/traces`;
  }
  const headers = {
    ...parseKeyValues(get(env, "OTEL_EXPORTER_OTLP_HEADERS"), warnings, "OTEL_EXPORTER_OTLP_HEADERS"),
    ...parseKeyValues(
      get(env, "OTEL_EXPORTER_OTLP_TRACES_HEADERS"),
      warnings,
      "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    ),
  };
  const timeoutName = get(env, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
    ? "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
    : "OTEL_EXPORTER_OTLP_TIMEOUT";
  const timeoutMillis = get(env, timeoutName) ? positiveInt(env, timeoutName, 10_000, warnings) : undefined;
  const rawCompression = (
    get(env, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION") ?? get(env, "OTEL_EXPORTER_OTLP_COMPRESSION")
  )?.toLowerCase();
  let compression: OtlpConfig["compression"];
  if (rawCompression === "gzip" || rawCompression === "none") compression = rawCompression;
  else if (rawCompression !== undefined) {
    warnings.push(`OTEL_EXPORTER_OTLP_COMPRESSION: "${rawCompression}" is not gzip or none; ignored`);
  }
  return { protocol, url, headers, timeoutMillis, compression };
}

/** Reads the OTEL_* variables; never throws (a wrong variable is a warning, as the specification asks). */
export function readTracingConfig(env: Env, defaults: { serviceName?: string } = {}): TracingConfig {
  const warnings: string[] = [];
  if (get(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true") {
    return { enabled: false, reason: "OTEL_SDK_DISABLED=true", warnings };
  }
  const exporters = (get(env, "OTEL_TRACES_EXPORTER") ?? "")
    .split(",")
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== "");
  if (exporters.includes("none")) return { enabled: false, reason: "OTEL_TRACES_EXPORTER=none", warnings };
  for (const e of exporters) {
    if (e !== "otlp" && e !== "console") {
      warnings.push(`OTEL_TRACES_EXPORTER: "${e}" is not supported (otlp, console or none); ignored`);
    }
  }
  const endpointSet =
    get(env, "OTEL_EXPORTER_OTLP_ENDPOINT") !== undefined ||
    get(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") !== undefined;
  const wantsOtlp = exporters.includes("otlp") || (endpointSet && !exporters.includes("console"));
  const wantsConsole = exporters.includes("console");
  if (!wantsOtlp && !wantsConsole) {
    return {
      enabled: false,
      reason: "no OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER",
      warnings,
    };
  }
  const resourceAttributes = parseKeyValues(
    get(env, "OTEL_RESOURCE_ATTRIBUTES"),
    warnings,
    "OTEL_RESOURCE_ATTRIBUTES",
  );
  const serviceName =
    get(env, "OTEL_SERVICE_NAME") ?? resourceAttributes["service.name"] ?? defaults.serviceName ?? "labops";
  const batch: BatchConfig = {
    scheduledDelayMillis: positiveInt(
      env,
      "OTEL_BSP_SCHEDULE_DELAY",
      DEFAULT_BATCH.scheduledDelayMillis,
      warnings,
    ),
    exportTimeoutMillis: positiveInt(
      env,
      "OTEL_BSP_EXPORT_TIMEOUT",
      DEFAULT_BATCH.exportTimeoutMillis,
      warnings,
    ),
    maxQueueSize: positiveInt(env, "OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_BATCH.maxQueueSize, warnings),
    maxExportBatchSize: positiveInt(
      env,
      "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
      DEFAULT_BATCH.maxExportBatchSize,
      warnings,
    ),
  };
  if (batch.maxExportBatchSize > batch.maxQueueSize) {
    warnings.push(
      "OTEL_BSP_MAX_EXPORT_BATCH_SIZE is larger than OTEL_BSP_MAX_QUEUE_SIZE; using the queue size",
    );
    batch.maxExportBatchSize = batch.maxQueueSize;
  }
  return {
    enabled: true,
    serviceName,
    resourceAttributes,
    sampler: readSampler(env, warnings),
    batch,
    otlp: wantsOtlp ? readOtlp(env, warnings) : undefined,
    console: wantsConsole,
    warnings,
  };
}
