import { hrTimeToMilliseconds } from "@opentelemetry/core";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import { inMemoryTracing } from "../../adapters/otel/memory.ts";
import { CancelledError } from "../../src/errors.ts";
import { carrierOf, inSpan, type TraceCarrier } from "../../src/ports/tracing.ts";

const byName = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const span = spans.find((s) => s.name === name);
  if (!span) throw new Error(`no span ${name} in ${spans.map((s) => s.name).join(", ")}`);
  return span;
};
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe("the Tracing port on the OpenTelemetry SDK", () => {
  it("parents spans on the active one, across awaits and concurrent branches", async () => {
    const { tracing, spans } = inMemoryTracing();
    await inSpan(tracing, "plan", {}, async () => {
      await Promise.all(
        ["a", "b"].map((step) =>
          inSpan(tracing, `step ${step}`, { attributes: { "labops.step": step } }, async () => {
            await new Promise((r) => setImmediate(r));
            await inSpan(tracing, `call ${step}`, { kind: "client" }, async () => undefined);
          }),
        ),
      );
    });
    const all = spans();
    const plan = byName(all, "plan");
    expect(parentOf(plan)).toBeUndefined();
    for (const step of ["a", "b"]) {
      const s = byName(all, `step ${step}`);
      expect(parentOf(s)).toBe(plan.spanContext().spanId);
      expect(parentOf(byName(all, `call ${step}`))).toBe(s.spanContext().spanId);
      expect(s.spanContext().traceId).toBe(plan.spanContext().traceId);
    }
    expect(byName(all, "call a").kind).toBe(2); // CLIENT
    await tracing.shutdown();
  });

  it("takes an explicit parent, or none (a new trace) with parent: null", async () => {
    const { tracing, spans } = inMemoryTracing();
    const root = tracing.startSpan("root");
    tracing.withActive(root.ref, () => {
      tracing.startSpan("explicit", { parent: root.ref }).end();
      tracing.startSpan("fresh", { parent: null }).end();
    });
    root.end();
    const all = spans();
    expect(parentOf(byName(all, "explicit"))).toBe(root.ref.spanId);
    expect(parentOf(byName(all, "fresh"))).toBeUndefined();
    expect(byName(all, "fresh").spanContext().traceId).not.toBe(root.ref.traceId);
    await tracing.shutdown();
  });

  it("carries the context through a plain record, as job data does, into another process's tracer", async () => {
    const web = inMemoryTracing("labops-web");
    const worker = inMemoryTracing("labops-worker");
    let jobData = "";
    await inSpan(web.tracing, "labops.intake", { kind: "server" }, async () => {
      await inSpan(web.tracing, "labops.enqueue", { kind: "producer" }, async () => {
        jobData = JSON.stringify({ command: "lab.create", trace: carrierOf(web.tracing) });
      });
    });
    const { trace } = JSON.parse(jobData) as { trace: TraceCarrier };
    expect(trace.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // The worker takes the job twice (a resume after a crash): both runs join the same trace.
    for (const attempt of [1, 2]) {
      const parent = worker.tracing.extract(trace);
      await inSpan(
        worker.tracing,
        "labops.job",
        { kind: "consumer", parent, attributes: { attempt } },
        async () => {
          await inSpan(worker.tracing, "labops.step", {}, async () => undefined);
        },
      );
    }
    const enqueue = byName(web.spans(), "labops.enqueue");
    const jobs = worker.spans().filter((s) => s.name === "labops.job");
    expect(jobs).toHaveLength(2);
    for (const job of jobs) {
      expect(job.spanContext().traceId).toBe(enqueue.spanContext().traceId);
      expect(parentOf(job)).toBe(enqueue.spanContext().spanId);
      expect(job.parentSpanContext?.isRemote).toBe(true);
    }
    expect(worker.tracing.extract(undefined)).toBeUndefined();
    expect(worker.tracing.extract({})).toBeUndefined();
    expect(worker.tracing.extract({ traceparent: "garbage" })).toBeUndefined();
    await Promise.all([web.tracing.shutdown(), worker.tracing.shutdown()]);
  });

  it("takes start and end times known after the fact, older than the process included", async () => {
    const { tracing, spans } = inMemoryTracing();
    const setAt = Date.UTC(2026, 0, 2, 3, 4, 5, 678); // before this process started
    const hops = { synced: setAt + 41_000, reloaded: setAt + 41_200, rollout: setAt + 42_000 };
    const rotation = tracing.startSpan("labops.rotation", { parent: null, startTime: setAt });
    let from = setAt;
    for (const [hop, at] of Object.entries(hops)) {
      tracing.startSpan(`labops.rotation.${hop}`, { parent: rotation.ref, startTime: from }).end(at);
      from = at;
    }
    rotation.end(hops.rollout);
    const all = spans();
    expect(hrTimeToMilliseconds(byName(all, "labops.rotation").startTime)).toBe(setAt);
    const synced = byName(all, "labops.rotation.synced");
    expect(hrTimeToMilliseconds(synced.startTime)).toBe(setAt);
    expect(hrTimeToMilliseconds(synced.endTime)).toBe(hops.synced);
    expect(hrTimeToMilliseconds(byName(all, "labops.rotation.rollout").duration)).toBe(800);
    await tracing.shutdown();
  });

  it("links a span to another trace, ends once, and records errors as status and event", async () => {
    const { tracing, spans } = inMemoryTracing();
    const command = tracing.startSpan("labops.command");
    command.end();
    const rotation = tracing.startSpan("labops.rotation", { parent: null, links: [command.ref] });
    rotation.end();
    rotation.end();
    await expect(
      inSpan(tracing, "labops.step", {}, async () => {
        throw new CancelledError();
      }),
    ).rejects.toBeInstanceOf(CancelledError);
    const all = spans();
    expect(all.filter((s) => s.name === "labops.rotation")).toHaveLength(1);
    expect(byName(all, "labops.rotation").links[0]?.context.spanId).toBe(command.ref.spanId);
    const step = byName(all, "labops.step");
    expect(step.status.code).toBe(2);
    expect(step.attributes["error.type"]).toBe("cancelled");
    expect(step.events[0]?.attributes?.["exception.type"]).toBe("CancelledError");
    await tracing.shutdown();
  });

  it("gives the active span's ids, and none outside a span", async () => {
    const { tracing } = inMemoryTracing();
    expect(tracing.active()).toBeUndefined();
    const span = tracing.startSpan("x");
    expect(tracing.withActive(span.ref, () => tracing.active())).toEqual(span.ref);
    expect(tracing.withActive(span.ref, () => tracing.active())).toBe(
      tracing.withActive(span.ref, () => tracing.active()),
    );
    span.end();
    await tracing.shutdown();
  });
});
