import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import { inMemoryTracing } from "../../adapters/otel/memory.ts";
import { slackRatePolicy } from "../../src/chat/limits.ts";
import { PacedChat } from "../../src/chat/paced.ts";
import { tracedIntake } from "../../src/commands/intake-trace.ts";
import { parseCommandText } from "../../src/commands/parse.ts";
import { CancelledError, ExternalError } from "../../src/errors.ts";
import { runPlan, type Step } from "../../src/labs/runner.ts";
import { createLogger } from "../../src/log.ts";
import type { ChatAddress, ChatMessage, ThreadRef } from "../../src/ports/chat.ts";
import { NO_METRICS } from "../../src/ports/metrics.ts";
import { inSpan, NO_TRACING } from "../../src/ports/tracing.ts";
import { MemoryAuditLog } from "../fakes/audit.ts";
import { RecordingChat } from "../fakes/chat.ts";
import { ManualClock } from "../fakes/clock.ts";
import { MemoryConfirmationStore } from "../fakes/confirmations.ts";
import { MemoryDeliveryLog } from "../fakes/deliveries.ts";
import { MemoryQueue } from "../fakes/queue.ts";
import { InMemoryRateLimiter } from "../fakes/rate-limiter.ts";
import { MemoryLabRegistry } from "../fakes/registry.ts";

const logger = createLogger({ level: "silent" });

/** Sleeps return at once and move the time on. */
class SkippingClock extends ManualClock {
  override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new CancelledError();
    this.set(this.now() + ms);
  }
}

const named = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const span = spans.find((s) => s.name === name);
  if (!span) throw new Error(`no span ${name} among ${spans.map((s) => s.name).join(", ")}`);
  return span;
};
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

/**
 * The core's call sites through the Tracing port, on the real SDK with the
 * in-memory exporter: the plan and its steps (retries, skipped steps, a
 * drain), intake's root span, and the paced chat calls. The whole path across
 * processes is test/integration/otel-lab-trace.test.ts.
 */
describe("spans of the plan and its steps", () => {
  const step = (name: string, dependsOn: string[], run?: Step["run"]): Step => ({
    name,
    label: name,
    dependsOn,
    run: run ?? (async () => ({})),
    retry: { attempts: 3, initialDelayMs: 100, maxDelayMs: 1_000 },
  });

  it("puts each step under the plan, its calls under the step, retries as events, done steps as skipped", async () => {
    const { tracing, spans } = inMemoryTracing();
    let tries = 0;
    const plan = [
      step("rg", []),
      step("kv", ["rg"], async () => {
        tries += 1;
        await inSpan(tracing, "labops.azure create vault", {}, async () => undefined);
        if (tries === 1)
          throw new ExternalError("azure", "ServiceUnavailable", "busy", { status: 503, retryable: true });
        return {};
      }),
    ];
    await inSpan(tracing, "labops.job lab.create", { kind: "consumer" }, () =>
      runPlan(plan, {
        checkpoints: { done: { rg: {} }, save: async () => undefined },
        signal: new AbortController().signal,
        logger,
        clock: new SkippingClock(),
        random: () => 0.5,
        tracing,
      }),
    );
    const all = spans();
    const job = named(all, "labops.job lab.create");
    const planSpan = named(all, "labops.plan");
    const kv = named(all, "labops.step kv");
    expect(parentOf(planSpan)).toBe(job.spanContext().spanId);
    expect(parentOf(kv)).toBe(planSpan.spanContext().spanId);
    expect(all.filter((s) => s.name === "labops.step rg")).toEqual([]);
    expect(planSpan.attributes).toMatchObject({ "labops.plan.steps": 2, "labops.plan.skipped": 1 });
    expect(planSpan.events.map((e) => [e.name, e.attributes?.["labops.step"]])).toEqual([["skipped", "rg"]]);
    expect(kv.attributes).toMatchObject({ "labops.step": "kv", "labops.step.attempts": 2 });
    expect(kv.events.map((e) => e.name)).toEqual(["retry"]);
    expect(kv.events[0]?.attributes).toMatchObject({
      "labops.attempt": 1,
      "error.type": "ServiceUnavailable",
    });
    const calls = all.filter((s) => s.name === "labops.azure create vault");
    expect(calls.map(parentOf)).toEqual([kv.spanContext().spanId, kv.spanContext().spanId]);
    await tracing.shutdown();
  });

  it("marks a failed step and its plan failed, and a drained plan as drained, not failed", async () => {
    const { tracing, spans } = inMemoryTracing();
    const failing = [
      step("rg", [], async () => {
        throw new ExternalError("azure", "AuthorizationFailed", "no", { status: 403 });
      }),
    ];
    const options = {
      checkpoints: { done: {}, save: async () => undefined },
      signal: new AbortController().signal,
      logger,
      clock: new SkippingClock(),
      tracing,
    };
    await expect(runPlan(failing, options)).rejects.toThrow("no");
    expect(named(spans(), "labops.step rg").status.code).toBe(2);
    expect(named(spans(), "labops.step rg").attributes["error.type"]).toBe("AuthorizationFailed");
    expect(named(spans(), "labops.plan").status.code).toBe(2);

    const drained = inMemoryTracing();
    const drain = new AbortController();
    const plan = [
      step("rg", [], async () => {
        drain.abort();
        return {};
      }),
      step("kv", ["rg"]),
    ];
    await expect(
      runPlan(plan, { ...options, drain: drain.signal, tracing: drained.tracing }),
    ).rejects.toThrow(CancelledError);
    const planSpan = named(drained.spans(), "labops.plan");
    expect(planSpan.events.map((e) => e.name)).toEqual(["drained"]);
    expect(planSpan.status.code).toBe(0);
    expect(drained.spans().map((s) => s.name)).toEqual(["labops.step rg", "labops.plan"]);
    await Promise.all([tracing.shutdown(), drained.tracing.shutdown()]);
  });

  it("makes no span at all with NO_TRACING", async () => {
    await expect(
      runPlan([step("rg", [])], {
        checkpoints: { done: {}, save: async () => undefined },
        signal: new AbortController().signal,
        logger,
        clock: new SkippingClock(),
        tracing: NO_TRACING,
      }),
    ).resolves.toEqual({ rg: {} });
  });
});

describe("intake's span", () => {
  const here: ChatAddress = { platform: "slack", tenant: "T1", channel: "C1" };
  const deps = (tracing = inMemoryTracing().tracing) => {
    const clock = { now: () => Date.UTC(2026, 0, 1) };
    const queue = new MemoryQueue();
    return {
      queue,
      deps: {
        queue,
        registry: new MemoryLabRegistry(),
        confirmations: new MemoryConfirmationStore(clock),
        audit: new MemoryAuditLog(),
        deliveries: new MemoryDeliveryLog(clock),
        admins: [],
        logger,
        clock,
        tracing,
      },
    };
  };
  const incoming = (text: string, n: number) => ({
    deliveryId: `d${n}`,
    correlationId: `c-${n}`,
    origin: { address: here, user: { platform: "slack" as const, id: "U1" } },
    receivedAt: 0,
    parsed: parseCommandText(text),
  });

  it("starts a new trace per delivery, with the command's facts set once it is answered", async () => {
    const { tracing, spans } = inMemoryTracing();
    const { deps: d } = deps(tracing);
    // Whatever is active around it (a platform's traceparent, another request): a delivery is a root.
    await inSpan(tracing, "outside", {}, () => tracedIntake(incoming("lab create team-a", 1), d, "command"));
    await tracedIntake(incoming("lab frobnicate", 2), d, "message");
    const [first, second] = spans().filter((s) => s.name === "labops.intake");
    expect(first?.parentSpanContext).toBeUndefined();
    expect(first?.kind).toBe(1); // server
    expect(first?.attributes).toEqual({
      "labops.chat.platform": "slack",
      "labops.delivery.kind": "command",
      "labops.correlation_id": "c-1",
      "labops.command.kind": "lab.create",
      "labops.intake.outcome": "queued",
      // The job it queued (intake's span is the job's producer): the worker's job span says the same id.
      "labops.job.id": "d-d1",
      "labops.lab": "team-a",
    });
    expect(second?.attributes).toMatchObject({
      "labops.delivery.kind": "message",
      "labops.command.kind": "unreadable",
      "labops.intake.outcome": "rejected",
    });
    await tracing.shutdown();
  });

  it("is intake itself with tracing off", async () => {
    const { queue, deps: d } = deps();
    const outcome = await tracedIntake(
      incoming("lab create team-b", 3),
      { ...d, tracing: NO_TRACING },
      "command",
    );
    expect(outcome.kind).toBe("queued");
    expect(queue.jobs).toHaveLength(1);
  });
});

describe("chat calls' spans", () => {
  const address: ChatAddress = { platform: "slack", tenant: "T1", channel: "C1" };

  it("spans each call made inside a trace, with the 429 it waited out, and none outside one", async () => {
    const { tracing, spans } = inMemoryTracing();
    const clock = new SkippingClock();
    let throttled = false;
    class Throttled extends RecordingChat {
      override async reply(thread: ThreadRef, message: ChatMessage): Promise<void> {
        if (!throttled) {
          throttled = true;
          throw new ExternalError("slack", "ratelimited", "slow down", { status: 429, retryAfterMs: 2_000 });
        }
        return super.reply(thread, message);
      }
    }
    const chat = new PacedChat(new Throttled(), {
      limiter: new InMemoryRateLimiter(clock),
      policy: slackRatePolicy,
      logger,
      clock,
      metrics: { metrics: NO_METRICS, service: "slack" },
      tracing,
    });
    const thread = await chat.openThread(address, { title: "Lab", status: "running" });
    expect(spans()).toEqual([]);
    await inSpan(tracing, "labops.step rg", {}, () => chat.reply(thread, "done"));
    const reply = named(spans(), "labops.chat reply");
    expect(parentOf(reply)).toBe(named(spans(), "labops.step rg").spanContext().spanId);
    expect(reply.kind).toBe(2); // client
    expect(reply.attributes).toEqual({ "labops.chat.method": "reply", "labops.chat.platform": "slack" });
    expect(reply.events.map((e) => [e.name, e.attributes?.["labops.delay_ms"]])).toEqual([
      ["rate_limited", 2_000],
    ]);
    await tracing.shutdown();
  });
});
