import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { decodeJsonTraceRequest } from "./json.ts";
import { decodeTraceRequest } from "./protobuf.ts";
import type { ReceivedSpan } from "./types.ts";

/**
 * A tiny OTLP/HTTP trace receiver: what an OpenTelemetry Collector's otlp
 * receiver does for `POST /v1/traces`, in http/protobuf and http/json (gzip or
 * not), keeping the spans in memory. Tests point the real SDK and its real
 * OTLP exporter at it; the demo reads the spans back from
 * `GET /_emulator/spans` to draw a trace. Loopback only.
 */
export interface OtlpReceiver {
  /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  /** The traces URL, for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. */
  readonly tracesUrl: string;
  /** Every span received so far, oldest first (the last `maxSpans`). */
  spans(): ReceivedSpan[];
  /** The spans of one trace, oldest first. */
  trace(traceId: string): ReceivedSpan[];
  /** Resolves with the spans as soon as `predicate` holds for them (checked now and on each export). */
  waitFor(
    predicate: (spans: readonly ReceivedSpan[]) => boolean,
    signal?: AbortSignal,
  ): Promise<ReceivedSpan[]>;
  /** Export requests by encoding, and those refused (bad content type or body). */
  readonly requests: { protobuf: number; json: number; refused: number };
  reset(): void;
  close(): Promise<void>;
}

export interface OtlpReceiverOptions {
  port?: number;
  /** Spans kept (the oldest go first); 20 000 by default. */
  maxSpans?: number;
  /** Largest request body accepted, bytes (4 MiB, as the Collector's default). */
  maxBodyBytes?: number;
}

const readBody = (req: IncomingMessage, limit: number): Promise<Buffer | undefined> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on("end", () => resolve(size <= limit ? Buffer.concat(chunks) : undefined));
    req.on("error", reject);
  });

/** JSON with bigints (OTLP times) as decimal strings. */
const toJson = (value: unknown) =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));

export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const maxSpans = options.maxSpans ?? 20_000;
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  let received: ReceivedSpan[] = [];
  const requests = { protobuf: 0, json: 0, refused: 0 };
  const waiters = new Set<() => void>();

  const refuse = (res: ServerResponse, status: number, message: string) => {
    requests.refused += 1;
    res.writeHead(status, { "content-type": "text/plain" }).end(message);
  };

  const handleExport = async (req: IncomingMessage, res: ServerResponse) => {
    const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
    const raw = await readBody(req, maxBodyBytes);
    if (!raw) return refuse(res, 413, "request body too large");
    let body: Buffer;
    try {
      body = req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw;
    } catch {
      return refuse(res, 400, "body is not gzip");
    }
    let spans: ReceivedSpan[];
    try {
      if (type === "application/x-protobuf") spans = decodeTraceRequest(body);
      else if (type === "application/json") spans = decodeJsonTraceRequest(JSON.parse(body.toString("utf8")));
      else return refuse(res, 415, "content type must be application/x-protobuf or application/json");
    } catch (error) {
      return refuse(res, 400, `cannot decode the request: ${(error as Error).message}`);
    }
    if (type === "application/json") requests.json += 1;
    else requests.protobuf += 1;
    received.push(...spans);
    if (received.length > maxSpans) received = received.slice(received.length - maxSpans);
    for (const wake of [...waiters]) wake();
    // An empty ExportTraceServiceResponse: zero bytes in protobuf, {} in JSON.
    if (type === "application/json") res.writeHead(200, { "content-type": "application/json" }).end("{}");
    else res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method === "POST" && url.pathname === "/v1/traces") {
      handleExport(req, res).catch(() => refuse(res, 500, "receiver error"));
      return;
    }
    if (req.method === "GET" && url.pathname === "/_emulator/spans") {
      const traceId = url.searchParams.get("traceId");
      const spans = traceId ? received.filter((s) => s.traceId === traceId) : received;
      res.writeHead(200, { "content-type": "application/json" }).end(toJson(spans));
      return;
    }
    if (req.method === "DELETE" && url.pathname === "/_emulator/spans") {
      received = [];
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found");
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;

  return {
    url: base,
    tracesUrl: `${base}/v1/traces`,
    requests,
    spans: () => [...received],
    trace: (traceId) => received.filter((s) => s.traceId === traceId),
    waitFor(predicate, signal) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(received)) return;
          waiters.delete(check);
          signal?.removeEventListener("abort", onAbort);
          resolve([...received]);
        };
        const onAbort = () => {
          waiters.delete(check);
          reject(signal?.reason);
        };
        if (signal?.aborted) return reject(signal.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
        waiters.add(check);
        check();
      });
    },
    reset() {
      received = [];
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
