/**
 * Just enough of the protobuf wire format to read an OTLP
 * ExportTraceServiceRequest (opentelemetry/proto/collector/trace/v1), with
 * the field numbers of opentelemetry-proto's trace.proto, common.proto and
 * resource.proto. Unknown fields are skipped, as protobuf requires.
 */
import type { AnyValue, KeyValues, ReceivedSpan } from "./types.ts";

class Reader {
  readonly #buf: Uint8Array;
  #pos = 0;
  constructor(buf: Uint8Array) {
    this.#buf = buf;
  }
  get done(): boolean {
    return this.#pos >= this.#buf.length;
  }
  #take(n: number): DataView {
    if (this.#pos + n > this.#buf.length) throw new Error("protobuf: truncated field");
    const view = new DataView(this.#buf.buffer, this.#buf.byteOffset + this.#pos, n);
    this.#pos += n;
    return view;
  }
  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.#pos >= this.#buf.length) throw new Error("protobuf: truncated varint");
      const byte = this.#buf[this.#pos++] ?? 0;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    throw new Error("protobuf: varint too long");
  }
  fixed64(): bigint {
    return this.#take(8).getBigUint64(0, true);
  }
  double(): number {
    return this.#take(8).getFloat64(0, true);
  }
  bytes(): Uint8Array {
    const length = Number(this.varint());
    if (this.#pos + length > this.#buf.length) throw new Error("protobuf: truncated field");
    const out = this.#buf.subarray(this.#pos, this.#pos + length);
    this.#pos += length;
    return out;
  }
  string(): string {
    return new TextDecoder().decode(this.bytes());
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.#take(8);
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.#take(4);
    else throw new Error(`protobuf: unsupported wire type ${wireType}`);
  }
}

/** Visits each field of the message in `buf`; `onField` reads the value, or returns false to have it skipped. */
function visit(buf: Uint8Array, onField: (r: Reader, field: number, wireType: number) => boolean): void {
  const r = new Reader(buf);
  while (!r.done) {
    const tag = Number(r.varint());
    const wireType = tag & 7;
    if (!onField(r, tag >>> 3, wireType)) r.skip(wireType);
  }
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function anyValue(buf: Uint8Array): AnyValue {
  let value: AnyValue = null;
  visit(buf, (r, field, wire) => {
    if (field === 1 && wire === 2) value = r.string();
    else if (field === 2 && wire === 0) value = r.varint() !== 0n;
    else if (field === 3 && wire === 0) value = Number(BigInt.asIntN(64, r.varint()));
    else if (field === 4 && wire === 1) value = r.double();
    else if (field === 5 && wire === 2) value = repeated(r.bytes(), 1, anyValue);
    else if (field === 6 && wire === 2) value = keyValues(r.bytes(), 1);
    else if (field === 7 && wire === 2) value = Buffer.from(r.bytes()).toString("base64");
    else return false;
    return true;
  });
  return value;
}

/** The messages of a `repeated` message field, each decoded by `decode`. */
function repeated<T>(buf: Uint8Array, fieldNo: number, decode: (b: Uint8Array) => T): T[] {
  const out: T[] = [];
  visit(buf, (r, field, wire) => {
    if (field !== fieldNo || wire !== 2) return false;
    out.push(decode(r.bytes()));
    return true;
  });
  return out;
}

/** `repeated KeyValue` at `fieldNo` of the message in `buf`, as a record. */
function keyValues(buf: Uint8Array, fieldNo: number): KeyValues {
  return Object.assign({}, ...repeated(buf, fieldNo, oneKeyValue));
}

type SpanFields = Omit<ReceivedSpan, "resource" | "scope" | "encoding">;

function span(buf: Uint8Array): SpanFields {
  const s: SpanFields = {
    traceId: "",
    spanId: "",
    parentSpanId: undefined,
    name: "",
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: {},
    events: [],
    links: [],
    status: { code: 0, message: "" },
  };
  visit(buf, (r, field, wire) => {
    if (field === 1 && wire === 2) s.traceId = hex(r.bytes());
    else if (field === 2 && wire === 2) s.spanId = hex(r.bytes());
    else if (field === 4 && wire === 2) {
      const parent = hex(r.bytes());
      s.parentSpanId = parent === "" ? undefined : parent;
    } else if (field === 5 && wire === 2) s.name = r.string();
    else if (field === 6 && wire === 0) s.kind = Number(r.varint());
    else if (field === 7 && wire === 1) s.startTimeUnixNano = r.fixed64();
    else if (field === 8 && wire === 1) s.endTimeUnixNano = r.fixed64();
    else if (field === 9 && wire === 2) Object.assign(s.attributes, oneKeyValue(r.bytes()));
    else if (field === 11 && wire === 2) {
      const event = { name: "", timeUnixNano: 0n, attributes: {} as KeyValues };
      const kvs: Uint8Array[] = [];
      visit(r.bytes(), (e, f, w) => {
        if (f === 1 && w === 1) event.timeUnixNano = e.fixed64();
        else if (f === 2 && w === 2) event.name = e.string();
        else if (f === 3 && w === 2) kvs.push(e.bytes());
        else return false;
        return true;
      });
      for (const kv of kvs) Object.assign(event.attributes, oneKeyValue(kv));
      s.events.push(event);
    } else if (field === 13 && wire === 2) {
      const link = { traceId: "", spanId: "", attributes: {} as KeyValues };
      visit(r.bytes(), (l, f, w) => {
        if (f === 1 && w === 2) link.traceId = hex(l.bytes());
        else if (f === 2 && w === 2) link.spanId = hex(l.bytes());
        else if (f === 4 && w === 2) Object.assign(link.attributes, oneKeyValue(l.bytes()));
        else return false;
        return true;
      });
      s.links.push(link);
    } else if (field === 15 && wire === 2) {
      visit(r.bytes(), (st, f, w) => {
        if (f === 2 && w === 2) s.status.message = st.string();
        else if (f === 3 && w === 0) s.status.code = Number(st.varint());
        else return false;
        return true;
      });
    } else return false;
    return true;
  });
  return s;
}

/** One KeyValue message (a repeated field's element, already cut out). */
function oneKeyValue(buf: Uint8Array): KeyValues {
  let key = "";
  let value: AnyValue = null;
  visit(buf, (r, f, w) => {
    if (f === 1 && w === 2) key = r.string();
    else if (f === 2 && w === 2) value = anyValue(r.bytes());
    else return false;
    return true;
  });
  return { [key]: value };
}

/** The spans of an ExportTraceServiceRequest in protobuf. */
export function decodeTraceRequest(body: Uint8Array): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const resourceSpans of repeated(body, 1, (b) => b)) {
    let resource: KeyValues = {};
    const scopes: Uint8Array[] = [];
    visit(resourceSpans, (r, f, w) => {
      if (f === 1 && w === 2) resource = keyValues(r.bytes(), 1);
      else if (f === 2 && w === 2) scopes.push(r.bytes());
      else return false;
      return true;
    });
    for (const scopeSpans of scopes) {
      const scope = { name: "", version: "" };
      const spans: Uint8Array[] = [];
      visit(scopeSpans, (r, f, w) => {
        if (f === 1 && w === 2) {
          visit(r.bytes(), (s, sf, sw) => {
            if (sf === 1 && sw === 2) scope.name = s.string();
            else if (sf === 2 && sw === 2) scope.version = s.string();
            else return false;
            return true;
          });
        } else if (f === 2 && w === 2) spans.push(r.bytes());
        else return false;
        return true;
      });
      for (const b of spans) out.push({ ...span(b), resource, scope, encoding: "protobuf" });
    }
  }
  return out;
}
