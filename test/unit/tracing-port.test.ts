import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { inMemoryTracing } from "../../adapters/otel/memory.ts";
import { createLogger, withSpan } from "../../src/log.ts";
import { carrierOf, inSpan, isValidRef, NO_TRACING } from "../../src/ports/tracing.ts";

function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString("utf8"));
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe("NO_TRACING", () => {
  it("hands out one shared no-op span, runs callbacks as they are and carries nothing", async () => {
    const a = NO_TRACING.startSpan("a", { attributes: { x: 1 } });
    const b = NO_TRACING.startSpan("b");
    expect(a).toBe(b);
    expect(a.recording).toBe(false);
    expect(isValidRef(a.ref)).toBe(false);
    a.setAttributes({ y: "z" });
    a.recordError(new Error("boom"));
    a.end(123);
    expect(NO_TRACING.withActive(a.ref, () => 42)).toBe(42);
    expect(NO_TRACING.active()).toBeUndefined();
    const carrier: Record<string, string> = {};
    NO_TRACING.inject(carrier, a.ref);
    expect(carrier).toEqual({});
    expect(
      NO_TRACING.extract({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }),
    ).toBe(undefined);
    expect(carrierOf(NO_TRACING)).toBeUndefined();
    await expect(inSpan(NO_TRACING, "c", {}, async () => "done")).resolves.toBe("done");
    await expect(
      inSpan(NO_TRACING, "d", {}, async () => {
        throw new Error("kept");
      }),
    ).rejects.toThrow("kept");
  });

  it("adds no mixin to the logger: lines look as they did", () => {
    const out = capture();
    const logger = createLogger({ destination: out.stream, tracing: NO_TRACING });
    logger.info("plain");
    expect(Object.keys(out.lines()[0] ?? {})).not.toContain("trace_id");
  });
});

describe("log lines and the active span", () => {
  it("carry trace_id and span_id while a span is active, and nothing outside it", async () => {
    const { tracing } = inMemoryTracing();
    const out = capture();
    const logger = createLogger({ destination: out.stream, tracing }).child({ correlationId: "c-1" });
    logger.info("before");
    let ids: { traceId: string; spanId: string } | undefined;
    await inSpan(tracing, "labops.command", {}, async (span) => {
      ids = span.ref;
      await Promise.resolve();
      logger.info("inside");
      await inSpan(tracing, "labops.step", {}, async (child) => {
        logger.info({ step: "rg" }, "nested");
        expect(child.ref.traceId).toBe(span.ref.traceId);
      });
    });
    logger.info("after");
    // Fields of the line's own, outside any span: pino merges them into what the mixin returned.
    logger.info({ roles: ["web"] }, "with fields");
    const [before, inside, nested, after, withFields] = out.lines();
    expect(withFields).toMatchObject({ roles: ["web"], msg: "with fields" });
    expect(withFields?.trace_id).toBeUndefined();
    expect(before?.trace_id).toBeUndefined();
    expect(inside).toMatchObject({ trace_id: ids?.traceId, span_id: ids?.spanId, correlationId: "c-1" });
    expect(nested?.trace_id).toBe(ids?.traceId);
    expect(nested?.span_id).not.toBe(ids?.spanId);
    expect(after?.trace_id).toBeUndefined();
    await tracing.shutdown();
  });

  it("binds a child logger to a span outside of it, and ignores the no-op span", () => {
    const { tracing } = inMemoryTracing();
    const out = capture();
    const logger = createLogger({ destination: out.stream });
    const span = tracing.startSpan("labops.rotation");
    withSpan(logger, span.ref).info("hop");
    withSpan(logger, NO_TRACING.startSpan("x").ref).info("none");
    span.end();
    const [hop, none] = out.lines();
    expect(hop).toMatchObject({ trace_id: span.ref.traceId, span_id: span.ref.spanId });
    expect(none?.trace_id).toBeUndefined();
  });
});
