/** An OTLP AnyValue as the receiver keeps it (int64 as a number, bytes as base64). */
export type AnyValue = string | number | boolean | null | AnyValue[] | { [key: string]: AnyValue };
export type KeyValues = Record<string, AnyValue>;

/** One span as an OTLP collector received it, whatever the encoding. */
export interface ReceivedSpan {
  /** 32 hex digits. */
  traceId: string;
  /** 16 hex digits. */
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: KeyValues;
  events: Array<{ name: string; timeUnixNano: bigint; attributes: KeyValues }>;
  links: Array<{ traceId: string; spanId: string; attributes: KeyValues }>;
  /** OTLP's StatusCode: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  resource: KeyValues;
  scope: { name: string; version: string };
  encoding: "protobuf" | "json";
}

/** Epoch ms of an OTLP time (µs precision kept). */
export const unixNanoToMs = (ns: bigint): number => Number(ns / 1_000n) / 1_000;
