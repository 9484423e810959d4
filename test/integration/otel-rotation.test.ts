import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inMemoryTracing } from "../../adapters/otel/memory.ts";
import { type Metrics, NO_METRICS } from "../../src/ports/metrics.ts";
import { type BotWorld, slackChannel, startBotWorld } from "../helpers/bot-world.ts";
import { waitFor } from "../helpers/env.ts";

const TIME_SCALE = 600;
const LAB = "team-t";

/** Epoch ms of an SDK time. */
const ms = (t: readonly [number, number]) => t[0] * 1_000 + t[1] / 1_000_000;

/**
 * A rotation made through labops, followed by the watcher to every pod, is
 * one trace of its own on the real SDK (in-memory exporter): the rotation
 * from the version's write to the alert, one span per hop whose times are
 * the hop times the watcher measured (the same ones its metrics report),
 * and the alert's chat calls under it; linked to the rotate command's job.
 */
describe("a rotation's trace", () => {
  let w: BotWorld;
  const traces = inMemoryTracing("labops");
  const hopSeconds = new Map<string, number>();
  const metrics: Metrics = { ...NO_METRICS, rotationHop: (hop, seconds) => hopSeconds.set(hop, seconds) };
  const channel = slackChannel(() => w, "C0ROTTRACE");

  beforeAll(async () => {
    w = await startBotWorld(TIME_SCALE, { logLevel: "silent", tracing: traces.tracing, metrics });
  });
  afterAll(async () => {
    await w?.stop();
    await traces.tracing.shutdown();
  });

  it("carries the hop times as span times, from the write to the alert", { timeout: 120_000 }, async () => {
    await channel.say("/lab", `create ${LAB}`);
    await waitFor(async () => (await w.registry.get(LAB))?.state === "ready" || undefined, "the lab", 60_000);
    await channel.say("/secret", `rotate color orange --lab ${LAB}`);
    const byName = (name: string) => traces.spans().filter((s) => s.name === name);
    await waitFor(() => byName("labops.rotation").length > 0 || undefined, "the rotation's trace", 60_000);

    const [rotation, ...others] = byName("labops.rotation");
    if (!rotation) throw new Error("no rotation span");
    expect(others).toEqual([]);
    const root = rotation.spanContext();
    expect(rotation.parentSpanContext).toBeUndefined();
    expect(rotation.attributes).toMatchObject({
      "labops.lab": LAB,
      "labops.secret.name": "color",
      "labops.rotation.mode": "rollout",
      "labops.rotation.outcome": "completed",
      "labops.rotation.by_labops": true,
      "labops.rotation.pods": 2,
      "labops.rotation.desired": 2,
    });
    expect(String(rotation.attributes["labops.secret.version"])).toMatch(/^[0-9a-f]{8}$/);

    // It follows from the command that wrote the version: a link to the rotate job's span.
    const [job] = byName("labops.job secret.rotate");
    expect(rotation.links.map((l) => l.context.spanId)).toEqual([job?.spanContext().spanId]);
    expect(job?.spanContext().traceId).not.toBe(root.traceId);

    // One span per hop, end to end from the write: each starts where the one before ended.
    const inTrace = traces.spans().filter((s) => s.spanContext().traceId === root.traceId);
    const hops = inTrace
      .filter((s) => s.name.startsWith("labops.rotation.") && s.name !== "labops.rotation.alert")
      .sort((a, b) => ms(a.startTime) - ms(b.startTime));
    expect(hops.map((s) => s.name)).toEqual([
      "labops.rotation.synced",
      "labops.rotation.reloaded",
      "labops.rotation.rollout",
      "labops.rotation.ready",
      "labops.rotation.mounted",
    ]);
    const setAt = ms(rotation.startTime);
    let previous = setAt;
    for (const hop of hops) {
      const name = String(hop.attributes["labops.rotation.hop"]);
      expect(hop.parentSpanContext?.spanId, name).toBe(root.spanId);
      expect(ms(hop.startTime), name).toBeCloseTo(previous, 3);
      // The watcher's own measure of the hop (its metric), to the millisecond.
      const offset = ms(hop.endTime) - setAt;
      expect(hop.attributes["labops.rotation.offset_ms"], name).toBeCloseTo(offset, 3);
      expect(offset / 1000, name).toBeCloseTo(hopSeconds.get(name) ?? Number.NaN, 3);
      previous = ms(hop.endTime);
    }

    // The alert ends the rotation; the chat calls that said it are its children. (Not "after the last
    // hop": the emulated cluster's timestamps run ahead of the wall clock at a time scale, see
    // emulators/README.md, and some hop times are read from them.)
    const [alert] = inTrace.filter((s) => s.name === "labops.rotation.alert");
    if (!alert) throw new Error("no alert span");
    expect(alert.attributes).toMatchObject({
      "labops.alert.kind": "completed",
      "labops.alert.where": "command thread",
    });
    expect(ms(alert.endTime)).toBeGreaterThan(setAt);
    expect(ms(rotation.endTime)).toBeGreaterThanOrEqual(ms(alert.endTime));
    const said = inTrace.filter(
      (s: ReadableSpan) => s.parentSpanContext?.spanId === alert.spanContext().spanId,
    );
    expect(said.map((s) => s.name)).toEqual(expect.arrayContaining(["labops.chat reply"]));
    expect(channel.messages().some((m) => /reached 2\/2 pods/.test(m.text))).toBe(true);
  });
});
