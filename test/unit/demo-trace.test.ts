import { describe, expect, it } from "vitest";
import { lastLabCreate, waterfall } from "../../emulators/demo/trace.ts";
import type { ReceivedSpan } from "../../emulators/otlp/index.ts";

const T0 = 1_800_000_000_000n * 1_000_000n;
const TRACE = "0af7651916cd43dd8448eb211c80319c";

/** A span of the test trace, `start` and `end` in ms from T0. */
function span(
  id: string,
  parent: string | undefined,
  name: string,
  start: number,
  end: number,
  more: Partial<ReceivedSpan> = {},
): ReceivedSpan {
  return {
    traceId: TRACE,
    spanId: id.padStart(16, "0"),
    parentSpanId: parent?.padStart(16, "0"),
    name,
    kind: 1,
    startTimeUnixNano: T0 + BigInt(start) * 1_000_000n,
    endTimeUnixNano: T0 + BigInt(end) * 1_000_000n,
    attributes: {},
    events: [],
    links: [],
    status: { code: 0, message: "" },
    resource: { "service.name": "labops" },
    scope: { name: "labops", version: "0.1.0" },
    encoding: "protobuf",
    ...more,
  };
}

const intakeAttributes = { "labops.command.kind": "lab.create", "labops.intake.outcome": "queued" };

/**
 * A lab create handed from one worker to another: two job attempts under the
 * enqueue; in the plan, step b runs beside a and c and d waits for b; a card
 * update given in step a is sent long after a ended.
 */
const spans: ReceivedSpan[] = [
  span("1", undefined, "labops.intake", 0, 10, { kind: 2, attributes: intakeAttributes }),
  span("2", "1", "labops.enqueue", 5, 8, { kind: 4, attributes: { "labops.lab": "team-a" } }),
  span("3", "2", "labops.job lab.create", 20, 100, {
    kind: 5,
    events: [{ name: "handed_back", timeUnixNano: T0 + 99_000_000n, attributes: {} }],
  }),
  span("4", "2", "labops.job lab.create", 120, 1000, { kind: 5 }),
  span("5", "4", "labops.plan", 130, 990),
  span("6", "5", "labops.step a", 130, 200),
  span("7", "5", "labops.step b", 131, 900),
  span("8", "5", "labops.step c", 132, 300, { status: { code: 2, message: "x" } }),
  span("9", "5", "labops.step d", 901, 980),
  span("a", "6", "labops.chat updateCard", 190, 950, { kind: 3 }),
  span("b", "7", "labops.azure create cluster", 140, 890),
  span("c", "b", "HTTP PUT", 141, 200, { kind: 3 }),
];

describe("the demo's trace page", () => {
  it("picks the newest queued lab create", () => {
    const older = span("e", undefined, "labops.intake", -500, -490, {
      kind: 2,
      attributes: intakeAttributes,
    });
    const refused = span("f", undefined, "labops.intake", 2000, 2001, {
      kind: 2,
      attributes: { "labops.command.kind": "lab.create", "labops.intake.outcome": "refused" },
    });
    expect(lastLabCreate([older, ...spans, refused])?.spanId).toBe("1".padStart(16, "0"));
    expect(lastLabCreate(spans.slice(1))).toBeUndefined();
  });

  it("lays the trace out in tree order and marks the chain that decided its length", () => {
    const root = lastLabCreate(spans);
    if (!root) throw new Error("no root");
    const w = waterfall(root, spans);
    expect(w.title).toBe("lab create team-a");
    // The jobs outlive the enqueue that queued them; the card update does not lengthen its step.
    expect(w.durationMs).toBe(1000);
    expect(w.rows.map((r) => `${"  ".repeat(r.depth)}${r.name}`)).toEqual([
      "labops.intake",
      "  labops.enqueue",
      "    labops.job lab.create",
      "    labops.job lab.create",
      "      labops.plan",
      "        labops.step a",
      "          labops.chat updateCard",
      "        labops.step b",
      "          labops.azure create cluster",
      "            HTTP PUT",
      "        labops.step c",
      "        labops.step d",
    ]);
    expect(w.criticalPath.map((h) => h.name)).toEqual([
      "labops.intake",
      "labops.enqueue",
      "labops.job lab.create",
      "labops.job lab.create",
      "labops.plan",
      "labops.step b",
      "labops.step d",
    ]);
    const row = (name: string) => w.rows.find((r) => r.name === name);
    expect(row("labops.azure create cluster")?.critical).toBe(true);
    expect(row("labops.step a")?.critical).toBe(false);
    expect(row("labops.chat updateCard")?.critical).toBe(false);
    expect(row("HTTP PUT")?.sdk).toBe(true);
    expect(row("labops.step c")).toMatchObject({ status: "error", error: "x" });
    expect(w.rows[2]?.marks).toEqual([{ name: "handed_back", atMs: 99 }]);
    expect(row("labops.step d")).toMatchObject({ startMs: 901, endMs: 980 });
  });
});
