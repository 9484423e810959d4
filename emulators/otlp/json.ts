/**
 * OTLP/JSON (the protobuf messages in proto3's JSON mapping, with the OTLP
 * exceptions: trace and span ids in hex, enums as integers, int64 as a
 * decimal string or a number). Ids in base64, as some exporters send them,
 * are accepted too.
 */
import type { AnyValue, KeyValues, ReceivedSpan } from "./types.ts";

type Json = Record<string, unknown>;

const obj = (v: unknown): Json =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

function id(v: unknown, hexLength: number): string {
  const s = str(v);
  if (s === "") return "";
  if (new RegExp(`^[0-9a-fA-F]{${hexLength}}$`).test(s)) return s.toLowerCase();
  return Buffer.from(s, "base64").toString("hex");
}

function nanos(v: unknown): bigint {
  if (typeof v === "number") return BigInt(Math.round(v));
  if (typeof v === "string" && /^\d+$/.test(v)) return BigInt(v);
  return 0n;
}

const KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

const enumValue = (v: unknown, names: Record<string, number>): number =>
  typeof v === "number" ? v : (names[str(v)] ?? 0);

function anyValue(v: unknown): AnyValue {
  const o = obj(v);
  if ("stringValue" in o) return str(o.stringValue);
  if ("boolValue" in o) return o.boolValue === true;
  if ("intValue" in o) return Number(o.intValue);
  if ("doubleValue" in o) return Number(o.doubleValue);
  if ("arrayValue" in o) return arr(obj(o.arrayValue).values).map(anyValue);
  if ("kvlistValue" in o) return keyValues(obj(o.kvlistValue).values);
  if ("bytesValue" in o) return str(o.bytesValue);
  return null;
}

function keyValues(list: unknown): KeyValues {
  const out: KeyValues = {};
  for (const kv of arr(list)) out[str(obj(kv).key)] = anyValue(obj(kv).value);
  return out;
}

/** The spans of an ExportTraceServiceRequest in OTLP/JSON. */
export function decodeJsonTraceRequest(body: unknown): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of arr(obj(body).resourceSpans)) {
    const resource = keyValues(obj(obj(rs).resource).attributes);
    for (const ss of arr(obj(rs).scopeSpans)) {
      const scope = { name: str(obj(obj(ss).scope).name), version: str(obj(obj(ss).scope).version) };
      for (const raw of arr(obj(ss).spans)) {
        const s = obj(raw);
        const parent = id(s.parentSpanId, 16);
        const status = obj(s.status);
        out.push({
          traceId: id(s.traceId, 32),
          spanId: id(s.spanId, 16),
          parentSpanId: parent === "" ? undefined : parent,
          name: str(s.name),
          kind: enumValue(s.kind, KINDS),
          startTimeUnixNano: nanos(s.startTimeUnixNano),
          endTimeUnixNano: nanos(s.endTimeUnixNano),
          attributes: keyValues(s.attributes),
          events: arr(s.events).map((e) => ({
            name: str(obj(e).name),
            timeUnixNano: nanos(obj(e).timeUnixNano),
            attributes: keyValues(obj(e).attributes),
          })),
          links: arr(s.links).map((l) => ({
            traceId: id(obj(l).traceId, 32),
            spanId: id(obj(l).spanId, 16),
            attributes: keyValues(obj(l).attributes),
          })),
          status: { code: enumValue(status.code, STATUS), message: str(status.message) },
          resource,
          scope,
          encoding: "json",
        });
      }
    }
  }
  return out;
}
