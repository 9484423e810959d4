import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTracing } from "../../adapters/otel/setup.ts";
import {
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
  unixNanoToMs,
} from "../../emulators/otlp/index.ts";
import { inSpan } from "../../src/ports/tracing.ts";
import { SecretValue } from "../../src/secret-value.ts";
import { findCanary } from "../helpers/sinks.ts";

/**
 * The real SDK and its real OTLP/HTTP exporters, configured only by OTEL_*
 * variables, export a span tree to the in-process receiver, which decodes
 * what came over the wire: one test per protocol the issue asks for.
 */
describe("OTLP export to the receiver", () => {
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });
  beforeEach(() => receiver.reset());

  const byName = (spans: readonly ReceivedSpan[], name: string): ReceivedSpan => {
    const span = spans.find((s) => s.name === name);
    if (!span) throw new Error(`no span ${name} among ${spans.map((s) => s.name).join(", ")}`);
    return span;
  };

  /** One command's tree, a rotation with hop times, and a canary offered every way the port allows. */
  async function emitTree(env: Record<string, string>) {
    const canary = `canary-${randomBytes(12).toString("hex")}`;
    const { tracing, config } = createTracing(env, { resource: { "labops.role": "worker" } });
    expect(config.enabled).toBe(true);
    const setAt = Date.UTC(2026, 10, 30, 12, 0, 0, 250);
    await inSpan(
      tracing,
      "labops.command",
      { kind: "server", attributes: { "labops.command.kind": "lab.create" } },
      async (command) => {
        await inSpan(
          tracing,
          "labops.step",
          {
            attributes: {
              "labops.step": "resource-group",
              "labops.attempt": 2,
              "labops.ok": true,
              "labops.ids": ["a", "b"],
            },
          },
          async (step) => {
            step.addEvent("retry", { "labops.delay_ms": 1500, token: canary });
            step.setAttributes({ value: canary, "labops.secret": new SecretValue(canary) as never });
            await inSpan(
              tracing,
              "PUT resourceGroups",
              { kind: "client", attributes: { "url.full": `https://arm/?sig=${canary}` } },
              async () => undefined,
            );
          },
        );
        await inSpan(tracing, "labops.step", { attributes: { "labops.step": "cluster" } }, async () => {
          throw new Error(`ARM said no to Bearer ${canary}`);
        }).catch(() => undefined);
        const rotation = tracing.startSpan("labops.rotation", {
          parent: null,
          startTime: setAt,
          links: [command.ref],
        });
        tracing
          .startSpan("labops.rotation.synced", { parent: rotation.ref, startTime: setAt })
          .end(setAt + 41_000);
        rotation.end(setAt + 72_000);
      },
    );
    await tracing.shutdown(); // flushes the batch
    return { canary, setAt };
  }

  it.each([
    ["http/protobuf", "protobuf"],
    ["http/json", "json"],
  ] as const)("sends a span tree over %s", async (protocol, encoding) => {
    const { canary, setAt } = await emitTree({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_SERVICE_NAME: "labops-test",
      OTEL_BSP_SCHEDULE_DELAY: "50",
    });
    const spans = await receiver.waitFor((s) => s.length >= 6);
    expect(spans).toHaveLength(6);
    expect(receiver.requests[encoding]).toBeGreaterThan(0);
    expect(new Set(spans.map((s) => s.encoding))).toEqual(new Set([encoding]));

    const command = byName(spans, "labops.command");
    expect(command.parentSpanId).toBeUndefined();
    expect(command.kind).toBe(2);
    expect(command.resource).toMatchObject({ "service.name": "labops-test", "labops.role": "worker" });
    expect(command.scope.name).toBe("labops");
    const steps = spans.filter((s) => s.name === "labops.step");
    expect(steps.map((s) => s.parentSpanId)).toEqual([command.spanId, command.spanId]);
    const [rg, cluster] = steps;
    expect(rg?.attributes).toEqual({
      "labops.step": "resource-group",
      "labops.attempt": 2,
      "labops.ok": true,
      "labops.ids": ["a", "b"],
    });
    expect(rg?.events[0]).toMatchObject({ name: "retry", attributes: { "labops.delay_ms": 1500 } });
    const call = byName(spans, "PUT resourceGroups");
    expect(call).toMatchObject({ parentSpanId: rg?.spanId, traceId: command.traceId, kind: 3 });
    expect(call.attributes["url.full"]).toBe("https://arm/?sig=[redacted]");
    expect(cluster?.status.code).toBe(2);
    expect(cluster?.events.map((e) => e.name)).toEqual(["exception"]);

    const rotation = byName(spans, "labops.rotation");
    expect(rotation.traceId).not.toBe(command.traceId);
    expect(rotation.links).toEqual([{ traceId: command.traceId, spanId: command.spanId, attributes: {} }]);
    expect(unixNanoToMs(rotation.startTimeUnixNano)).toBe(setAt);
    expect(unixNanoToMs(rotation.endTimeUnixNano)).toBe(setAt + 72_000);
    const synced = byName(spans, "labops.rotation.synced");
    expect(synced.parentSpanId).toBe(rotation.spanId);
    expect(unixNanoToMs(synced.endTimeUnixNano) - unixNanoToMs(synced.startTimeUnixNano)).toBe(41_000);

    const wire = JSON.stringify(spans, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v));
    expect(findCanary(wire, canary)).toEqual([]);
  });

  it("honours the traces endpoint as given, gzip, and the sampler", async () => {
    await emitTree({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9/not-here",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.tracesUrl,
      OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
    });
    expect(await receiver.waitFor((s) => s.length >= 6)).toHaveLength(6);

    receiver.reset();
    const { tracing } = createTracing({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_SAMPLER: "always_off",
    });
    const dropped = tracing.startSpan("dropped");
    expect(dropped.recording).toBe(false);
    dropped.end();
    await tracing.shutdown();
    expect(receiver.spans()).toEqual([]);
  });

  it("serves what it received as JSON for the demo page", async () => {
    await emitTree({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" });
    const command = byName(await receiver.waitFor((s) => s.length >= 6), "labops.command");
    const response = await fetch(`${receiver.url}/_emulator/spans?traceId=${command.traceId}`);
    const spans = (await response.json()) as Array<{ name: string; startTimeUnixNano: string }>;
    expect(spans.map((s) => s.name).sort()).toEqual([
      "PUT resourceGroups",
      "labops.command",
      "labops.step",
      "labops.step",
    ]);
    expect(spans[0]?.startTimeUnixNano).toMatch(/^\d{19}$/);
    const refused = await fetch(receiver.tracesUrl, {
      method: "POST",
      body: "x",
      headers: { "content-type": "text/plain" },
    });
    expect(refused.status).toBe(415);
  });
});
