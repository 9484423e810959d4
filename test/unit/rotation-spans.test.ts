import { describe, expect, it } from "vitest";
import { inMemoryTracing } from "../../adapters/otel/memory.ts";
import { createLogger } from "../../src/log.ts";
import type { ChatAddress } from "../../src/ports/chat.ts";
import { NO_METRICS } from "../../src/ports/metrics.ts";
import { carrierOf, inSpan } from "../../src/ports/tracing.ts";
import { AlertOutbox } from "../../src/watcher/alert-outbox.ts";
import { watcherSettings } from "../../src/watcher/settings.ts";
import { startTrace, type TraceState } from "../../src/watcher/trace.ts";
import { TraceAlerts } from "../../src/watcher/trace-alerts.ts";
import { RecordingChat } from "../fakes/chat.ts";
import { ManualClock } from "../fakes/clock.ts";
import { MemoryLeases } from "../fakes/leases.ts";
import { MemoryRotationThreads, MemoryWatchStateStore } from "../fakes/watcher.ts";

const LAB = "team-a";
const address: ChatAddress = { platform: "slack", tenant: "T1", channel: "C1" };
const SET_AT = Date.UTC(2026, 11, 3, 12, 0, 0);

/**
 * The rotation's spans as TraceAlerts makes them, on the real SDK: kept only
 * for an alert said now (a wait for the command's thread leaves nothing), the
 * hops at the watcher's times, the chat calls under the alert, and a
 * completion after a stuck alert linked to the stuck one's rotation span.
 */
describe("a rotation's spans from its alerts", () => {
  async function world() {
    const clock = new ManualClock({ now: SET_AT });
    const leases = new MemoryLeases(clock);
    await leases.acquire(LAB, "h1", 60_000);
    const traces = inMemoryTracing();
    const chat = new RecordingChat();
    const threads = new MemoryRotationThreads();
    const log = createLogger({ level: "silent" });
    const settings = watcherSettings(clock);
    const store = new MemoryWatchStateStore(leases);
    const outbox = new AlertOutbox({ lab: LAB, holder: "h1", store, settings, random: () => 0.5, log });
    const alerts = new TraceAlerts({
      lab: LAB,
      address,
      chat,
      threads,
      outbox,
      metrics: NO_METRICS,
      settings,
      log,
      tracing: traces.tracing,
    });
    return { clock, traces, chat, threads, alerts, settings };
  }

  const base = (): TraceState => ({
    ...startTrace({
      lab: LAB,
      secret: "color",
      version: "0123456789abcdef0123456789abcdef",
      previousVersion: undefined,
      setAt: SET_AT,
      changedBy: "slack:U1",
      podsBefore: ["p-old-1", "p-old-2"],
      replicaSetBefore: "rs-1",
      correlationId: "c-1",
    }),
    mode: "rollout",
  });

  it("links a completion after a stuck alert to the stuck one, and keeps nothing of a wait", async () => {
    const { clock, traces, chat, threads, alerts } = await world();
    const byName = (name: string) => traces.spans().filter((s) => s.name === name);

    // The command's thread is not registered yet: the alert waits, and no span is exported.
    const stuckAt = SET_AT + 5_000;
    const waiting = { ...base(), hops: { synced: SET_AT + 1_200 } };
    expect(await alerts.stuck(waiting, { hop: "reloaded", cause: "Reloader did not roll" }, stuckAt)).toBe(
      undefined,
    );
    expect(traces.spans()).toEqual([]);

    // The rotate job registers its thread with its span's context.
    const { tracing } = traces;
    let command: Record<string, string> | undefined;
    await inSpan(tracing, "labops.job secret.rotate", { kind: "consumer" }, async () => {
      command = carrierOf(tracing);
      const thread = await chat.openThread(address, {
        title: "Rotation: color in team-a",
        status: "running",
      });
      await threads.register({
        lab: LAB,
        secret: "color",
        version: waiting.version,
        thread,
        card: { title: "Rotation: color in team-a", status: "running" },
        by: "ada",
        correlationId: "c-1",
        writtenAt: SET_AT,
        ...(command ? { trace: command } : {}),
      });
    });
    const [job] = byName("labops.job secret.rotate");

    const stuck = await alerts.stuck(waiting, { hop: "reloaded", cause: "Reloader did not roll" }, stuckAt);
    if (!stuck) throw new Error("the stuck alert was not said");
    expect(stuck.rotationTrace?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const [stuckRoot] = byName("labops.rotation");
    expect(stuckRoot?.attributes["labops.rotation.outcome"]).toBe("stuck");
    expect(stuckRoot?.links.map((l) => l.context.spanId)).toEqual([job?.spanContext().spanId]);
    expect(byName("labops.rotation.synced")).toHaveLength(1);

    // It completes later: the hops are the watcher's, the completion links to the stuck alert too.
    const hops = {
      synced: SET_AT + 1_200,
      reloaded: SET_AT + 9_000,
      rollout: SET_AT + 9_400,
      ready: SET_AT + 21_000,
      mounted: SET_AT + 21_500,
    };
    const done: TraceState = {
      ...stuck,
      hops,
      completedAt: hops.mounted,
      reached: { pods: ["p-new-1", "p-new-2"], desired: 2 },
    };
    clock.set(SET_AT + 22_000);
    expect(await alerts.completed(done, clock.now())).toBe(true);
    const completed = byName("labops.rotation").find(
      (s) => s.attributes["labops.rotation.outcome"] === "completed",
    );
    if (!completed) throw new Error("no completed rotation");
    expect(completed.links.map((l) => l.context.spanId)).toEqual([
      job?.spanContext().spanId,
      stuckRoot?.spanContext().spanId,
    ]);
    const ms = (t: readonly [number, number]) => t[0] * 1_000 + t[1] / 1_000_000;
    expect(ms(completed.startTime)).toBe(SET_AT);
    const inTrace = traces.spans().filter((s) => s.spanContext().traceId === completed.spanContext().traceId);
    const hopSpans = inTrace.filter((s) =>
      /^labops\.rotation\.(synced|reloaded|rollout|ready|mounted)$/.test(s.name),
    );
    expect(hopSpans.map((s) => [s.name, ms(s.startTime) - SET_AT, ms(s.endTime) - SET_AT])).toEqual([
      ["labops.rotation.synced", 0, 1_200],
      ["labops.rotation.reloaded", 1_200, 9_000],
      ["labops.rotation.rollout", 9_000, 9_400],
      ["labops.rotation.ready", 9_400, 21_000],
      ["labops.rotation.mounted", 21_000, 21_500],
    ]);
    const [alert] = inTrace.filter((s) => s.name === "labops.rotation.alert");
    expect(alert?.attributes).toEqual({
      "labops.alert.kind": "completed",
      "labops.alert.where": "command thread",
    });
    await tracing.shutdown();
  });
});
