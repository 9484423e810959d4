import { type ReceivedSpan, unixNanoToMs } from "../otlp/index.ts";

/**
 * The demo's trace page (`/trace`): the last `lab create`'s trace as the bot
 * exported it over OTLP to the demo's receiver, laid out for a waterfall,
 * with its critical path: the chain of spans that decided how long it took.
 */

/** One row of the waterfall: a span, placed in its tree and in time (ms from the trace's start). */
export interface WaterfallRow {
  spanId: string;
  parentSpanId: string | undefined;
  depth: number;
  name: string;
  service: string;
  /** internal, server, client, producer, consumer */
  kind: string;
  startMs: number;
  endMs: number;
  /** "error" when the span failed (its error type beside it), else "ok". */
  status: "ok" | "error";
  error: string | undefined;
  /** A few facts worth a tooltip: step, operation, outcome, attempt, HTTP status. */
  facts: Record<string, string | number | boolean>;
  /** An event worth marking on the bar: a retry, a handback, a skipped step, a 429. */
  marks: Array<{ name: string; atMs: number }>;
  /** On the critical path. */
  critical: boolean;
  /** Made by an SDK for labops (Azure's HTTP, Key Vault and Identity spans), not by labops itself. */
  sdk: boolean;
}

export interface Waterfall {
  traceId: string;
  /** What the trace is of: `lab create team-a` and its outcome. */
  title: string;
  durationMs: number;
  rows: WaterfallRow[];
  /** The critical path's spans from the root down, with their own durations. */
  criticalPath: Array<{ name: string; durationMs: number }>;
}

const PRODUCER = 4;
const CONSUMER = 5;
const KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];
const FACTS = [
  "labops.command.kind",
  "labops.intake.outcome",
  "labops.lab",
  "labops.step",
  "labops.step.attempts",
  "labops.azure.operation",
  "labops.k8s.operation",
  "labops.chat.method",
  "labops.job.attempt",
  "labops.job.resumed",
  "labops.plan.skipped",
  "http.method",
  "http.status_code",
  "error.type",
];
const PATH_SPANS = /^labops\.(intake|enqueue|job |plan|step )/;
const MARKS = new Set(["retry", "handed_back", "drained", "skipped", "rate_limited", "checkpoint_retry"]);

/** The newest trace whose root is a queued `lab create` (its intake span), or undefined. */
export function lastLabCreate(spans: readonly ReceivedSpan[]): ReceivedSpan | undefined {
  let last: ReceivedSpan | undefined;
  for (const s of spans) {
    if (s.name !== "labops.intake" || s.attributes["labops.command.kind"] !== "lab.create") continue;
    if (s.attributes["labops.intake.outcome"] !== "queued") continue;
    if (!last || s.startTimeUnixNano > last.startTimeUnixNano) last = s;
  }
  return last;
}

/** The trace of `root` as waterfall rows in tree order (children by start time), with its critical path. */
export function waterfall(root: ReceivedSpan, spans: readonly ReceivedSpan[]): Waterfall {
  const inTrace = spans.filter((s) => s.traceId === root.traceId);
  const children = new Map<string, ReceivedSpan[]>();
  for (const s of inTrace) {
    if (s === root || !s.parentSpanId) continue;
    const list = children.get(s.parentSpanId) ?? [];
    list.push(s);
    children.set(s.parentSpanId, list);
  }
  const kids = (s: ReceivedSpan) =>
    [...(children.get(s.spanId) ?? [])].sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano));
  const t0 = unixNanoToMs(root.startTimeUnixNano);
  const start = (s: ReceivedSpan) => unixNanoToMs(s.startTimeUnixNano) - t0;
  const end = (s: ReceivedSpan) => unixNanoToMs(s.endTimeUnixNano) - t0;

  // A span's reach: the latest end among it and its descendants that it waited for. Only what a
  // message started (a job, under the enqueue that queued it) outlives its parent on purpose; a call
  // that ends after its parent (a card update sent after its step) was not waited for, and counts up
  // to its parent's end.
  const reach = new Map<string, number>();
  const reachIn = (parent: ReceivedSpan, child: ReceivedSpan) =>
    child.kind === CONSUMER || child.kind === PRODUCER
      ? reachOf(child)
      : Math.min(reachOf(child), end(parent));
  const reachOf = (s: ReceivedSpan): number => {
    const known = reach.get(s.spanId);
    if (known !== undefined) return known;
    const r = Math.max(end(s), ...kids(s).map((k) => reachIn(s, k)));
    reach.set(s.spanId, r);
    return r;
  };

  // The critical path, walked back from the end: among a span's children, the one that reached
  // furthest, then the one that ended before that one started, and so on; each recursively.
  const critical = new Set<string>();
  const walk = (s: ReceivedSpan) => {
    critical.add(s.spanId);
    let cursor = reachOf(s);
    const byReach = kids(s).sort((a, b) => reachIn(s, b) - reachIn(s, a));
    for (const child of byReach) {
      // Overlapped by a child already on the path (2 ms: spans anchor their clocks apart by up to a few ms).
      if (reachIn(s, child) > cursor + 2) continue;
      walk(child);
      cursor = start(child);
    }
  };
  walk(root);

  const rows: WaterfallRow[] = [];
  const visit = (s: ReceivedSpan, depth: number) => {
    const facts: WaterfallRow["facts"] = {};
    for (const key of FACTS) {
      const v = s.attributes[key];
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") facts[key] = v;
    }
    rows.push({
      spanId: s.spanId,
      parentSpanId: s.parentSpanId,
      depth,
      name: s.name,
      service: String(s.resource["service.name"] ?? ""),
      kind: KINDS[s.kind] ?? "internal",
      startMs: round(start(s)),
      endMs: round(end(s)),
      status: s.status.code === 2 ? "error" : "ok",
      error: s.status.code === 2 ? String(s.attributes["error.type"] ?? s.status.message) : undefined,
      facts,
      marks: s.events
        .filter((e) => MARKS.has(e.name))
        .map((e) => ({ name: e.name, atMs: round(unixNanoToMs(e.timeUnixNano) - t0) })),
      critical: critical.has(s.spanId),
      // The Azure SDK's spans come through labops's instrumenter (same scope); labops names its own.
      sdk: !s.name.startsWith("labops."),
    });
    for (const child of kids(s)) visit(child, depth + 1);
  };
  visit(root, 0);

  // The summary names the command's own spans and its steps; the rows mark the calls inside them too.
  const criticalPath = rows
    .filter((r) => r.critical && PATH_SPANS.test(r.name))
    .map((r) => ({ name: r.name, durationMs: round(r.endMs - r.startMs) }));
  const lab = root.attributes["labops.lab"] ?? findLab(inTrace);
  return {
    traceId: root.traceId,
    title: `lab create${lab ? ` ${String(lab)}` : ""}`,
    durationMs: round(reachOf(root)),
    rows,
    criticalPath,
  };
}

function findLab(spans: readonly ReceivedSpan[]): string | undefined {
  for (const s of spans)
    if (typeof s.attributes["labops.lab"] === "string") return s.attributes["labops.lab"];
  return undefined;
}

const round = (ms: number) => Math.round(ms * 10) / 10;
