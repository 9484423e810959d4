import { describe, expect, it } from "vitest";
import { CancelledError, ExternalError } from "../../src/errors.ts";
import {
  CheckpointError,
  type Checkpoints,
  MAX_THROTTLE_WAITS,
  runPlan,
  type Step,
  type StepEvent,
  StepFailedError,
  type StepOutputs,
  validatePlan,
} from "../../src/labs/runner.ts";
import { createLogger } from "../../src/log.ts";
import { ManualClock } from "../fakes/clock.ts";

const logger = createLogger({ level: "silent" });

function memory(done: Record<string, StepOutputs> = {}): Checkpoints & { saved: string[] } {
  const saved: string[] = [];
  return {
    done,
    saved,
    async save(step) {
      saved.push(step);
    },
  };
}

function step(name: string, dependsOn: string[], run?: Step["run"], retry?: Step["retry"]): Step {
  return {
    name,
    label: name,
    dependsOn,
    run: run ?? (async () => ({ [name]: "ok" })),
    ...(retry ? { retry } : {}),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

/** A clock whose sleeps return at once, moving its time on by what they waited; `waits` records each. */
class SkippingClock extends ManualClock {
  readonly #waits: number[];
  constructor(waits: number[] = []) {
    super();
    this.#waits = waits;
  }
  override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new CancelledError();
    this.#waits.push(ms);
    this.set(this.now() + ms);
  }
}

describe("runPlan", () => {
  it("runs independent steps at the same time and passes outputs down", async () => {
    const events: StepEvent[] = [];
    const order: string[] = [];
    const gate = Promise.withResolvers<void>();
    const plan = [
      step("rg", [], async () => ({ id: "/rg" })),
      step("aks", ["rg"], async () => {
        order.push("aks.start");
        await gate.promise;
        order.push("aks.end");
        return { issuer: "https://issuer/" };
      }),
      step("kv", ["rg"], async () => {
        order.push("kv.start");
        await tick();
        order.push("kv.end");
        gate.resolve();
        return { vault: "kv-x" };
      }),
      step("fic", ["aks", "kv"], async (ctx) => ({
        both: `${ctx.output("aks", "issuer")}|${ctx.output("kv", "vault")}`,
      })),
    ];
    const cp = memory();
    const outputs = await runPlan(plan, {
      checkpoints: cp,
      signal: new AbortController().signal,
      logger,
      clock: new SkippingClock(),
      onEvent: (e) => events.push(e),
    });
    expect(order.slice(0, 2).sort()).toEqual(["aks.start", "kv.start"]);
    expect(outputs.fic).toEqual({ both: "https://issuer/|kv-x" });
    expect(cp.saved).toEqual(["rg", "kv", "aks", "fic"]);
    expect(events.filter((e) => e.type === "finished").map((e) => e.step)).toEqual([
      "rg",
      "kv",
      "aks",
      "fic",
    ]);
  });

  it("resumes: steps finished by an earlier run are skipped, not repeated", async () => {
    const ran: string[] = [];
    const plan = ["a", "b", "c"].map((n, i) =>
      step(n, i === 0 ? [] : [["a", "b", "c"][i - 1] as string], async (ctx) => {
        ran.push(n);
        return n === "c" ? { got: ctx.output("b", "b") } : { [n]: n.toUpperCase() };
      }),
    );
    const cp = memory({ a: { a: "A" }, b: { b: "B" } });
    const outputs = await runPlan(plan, {
      checkpoints: cp,
      signal: new AbortController().signal,
      logger,
      clock: new SkippingClock(),
    });
    expect(ran).toEqual(["c"]);
    expect(outputs.c).toEqual({ got: "B" });
  });

  it("retries retryable failures, never sooner than Retry-After", async () => {
    const delays: number[] = [];
    let calls = 0;
    const plan = [
      step(
        "throttled",
        [],
        async () => {
          calls++;
          if (calls < 3)
            throw new ExternalError("azure", "TooManyRequests", "slow down", {
              retryable: true,
              retryAfterMs: 7_000,
            });
          return {};
        },
        { attempts: 5, initialDelayMs: 10, maxDelayMs: 100 },
      ),
    ];
    await runPlan(plan, {
      checkpoints: memory(),
      signal: new AbortController().signal,
      logger,
      clock: new SkippingClock(delays),
    });
    expect(calls).toBe(3);
    expect(delays).toEqual([7_000, 7_000]);
  });

  it("fails at once on a non-retryable error, keeps independent work, and starts no dependent", async () => {
    const ran: string[] = [];
    const plan = [
      step("bad", [], async () => {
        throw new ExternalError("azure", "InvalidResourceName", "bad name", { hint: "pick another name" });
      }),
      step("slow", [], async () => {
        await tick();
        await tick();
        ran.push("slow");
        return {};
      }),
      step("after-bad", ["bad"], async () => {
        ran.push("after-bad");
        return {};
      }),
    ];
    const cp = memory();
    const error = await runPlan(plan, {
      checkpoints: cp,
      signal: new AbortController().signal,
      logger,
      clock: new SkippingClock(),
    }).catch((e) => e);
    expect(error).toBeInstanceOf(StepFailedError);
    expect(error).toMatchObject({ step: "bad", code: "InvalidResourceName", hint: "pick another name" });
    expect(ran).toEqual(["slow"]);
    expect(cp.saved).toEqual(["slow"]);
  });

  it("gives up after the policy's attempts", async () => {
    let calls = 0;
    const plan = [
      step(
        "flaky",
        [],
        async () => {
          calls++;
          throw new ExternalError("azure", "InternalServerError", "boom", { retryable: true });
        },
        { attempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
      ),
    ];
    const error = await runPlan(plan, {
      checkpoints: memory(),
      signal: new AbortController().signal,
      logger,
      clock: new SkippingClock(),
    }).catch((e) => e);
    expect(calls).toBe(3);
    expect(error).toMatchObject({ step: "flaky", code: "InternalServerError" });
  });

  it("waits out throttling without using up the policy's attempts, up to a bound", async () => {
    let calls = 0;
    const delays: number[] = [];
    const throttledThenOk = step(
      "busy",
      [],
      async () => {
        calls++;
        if (calls <= 10) {
          throw new ExternalError("azure", "SubscriptionRequestsThrottled", "wait", {
            status: 429,
            retryAfterMs: 1_000,
            retryable: true,
          });
        }
        return { ok: "yes" };
      },
      { attempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
    );
    const outputs = await runPlan([throttledThenOk], {
      checkpoints: memory(),
      signal: new AbortController().signal,
      logger,
      clock: new SkippingClock(delays),
    });
    expect(outputs.busy).toEqual({ ok: "yes" });
    expect(calls).toBe(11);
    // Never sooner than the Retry-After.
    expect(delays.every((d) => d >= 1_000)).toBe(true);

    let forever = 0;
    const alwaysThrottled = step(
      "stuck",
      [],
      async () => {
        forever++;
        throw new ExternalError("azure", "SubscriptionRequestsThrottled", "wait", {
          status: 429,
          retryable: true,
        });
      },
      { attempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
    );
    const error = await runPlan([alwaysThrottled], {
      checkpoints: memory(),
      signal: new AbortController().signal,
      logger,
      clock: new SkippingClock(),
    }).catch((e) => e);
    expect(error).toMatchObject({ step: "stuck", code: "SubscriptionRequestsThrottled" });
    expect(forever).toBe(MAX_THROTTLE_WAITS + 3);
  });

  it("stops on abort without starting more steps", async () => {
    const ac = new AbortController();
    const ran: string[] = [];
    const plan = [
      step("first", [], async (ctx) => {
        ran.push("first");
        ac.abort();
        if (ctx.signal.aborted) throw new CancelledError();
        return {};
      }),
      step("second", ["first"], async () => {
        ran.push("second");
        return {};
      }),
    ];
    const cp = memory();
    await expect(
      runPlan(plan, { checkpoints: cp, signal: ac.signal, logger, clock: new SkippingClock() }),
    ).rejects.toBeInstanceOf(CancelledError);
    expect(ran).toEqual(["first"]);
    expect(cp.saved).toEqual([]);
  });

  it("retries a checkpoint that cannot be saved, and never calls it a step failure", async () => {
    const ran: string[] = [];
    let refusals = 2;
    const saved: string[] = [];
    const flaky: Checkpoints = {
      done: {},
      async save(name) {
        if (refusals-- > 0) throw new Error("connect ECONNREFUSED");
        saved.push(name);
      },
    };
    const plan = [
      step("only", [], async () => {
        ran.push("only");
        return {};
      }),
    ];
    const events: StepEvent[] = [];
    await runPlan(plan, {
      checkpoints: flaky,
      signal: new AbortController().signal,
      logger,
      clock: new SkippingClock(),
      onEvent: (e) => events.push(e),
    });
    expect(ran).toEqual(["only"]);
    expect(saved).toEqual(["only"]);
    expect(events.map((e) => e.type)).toEqual(["started", "finished"]);

    // Out of patience: the run stops with a CheckpointError (the job retries), not a StepFailedError.
    const never: Checkpoints = {
      done: {},
      async save() {
        throw new Error("connect ECONNREFUSED");
      },
    };
    const failedEvents: StepEvent[] = [];
    await expect(
      runPlan(plan, {
        checkpoints: never,
        signal: new AbortController().signal,
        logger,
        clock: new SkippingClock(),
        checkpointPatienceMs: 20,
        onEvent: (e) => failedEvents.push(e),
      }),
    ).rejects.toBeInstanceOf(CheckpointError);
    expect(failedEvents.map((e) => e.type)).not.toContain("failed");
  });

  it("drains: running steps finish and are checkpointed, no new step starts", async () => {
    const drain = new AbortController();
    const ran: string[] = [];
    const plan = [
      step("first", [], async () => {
        ran.push("first");
        drain.abort();
        await tick();
        return { id: "1" };
      }),
      step("second", ["first"], async () => {
        ran.push("second");
        return {};
      }),
    ];
    const cp = memory();
    await expect(
      runPlan(plan, {
        checkpoints: cp,
        signal: new AbortController().signal,
        drain: drain.signal,
        logger,
        clock: new SkippingClock(),
      }),
    ).rejects.toBeInstanceOf(CancelledError);
    expect(ran).toEqual(["first"]);
    expect(cp.saved).toEqual(["first"]);
    // A plan already finished when the drain comes is simply done.
    await expect(
      runPlan(plan, {
        checkpoints: memory({ first: {}, second: {} }),
        signal: new AbortController().signal,
        drain: drain.signal,
        logger,
        clock: new SkippingClock(),
      }),
    ).resolves.toBeDefined();
  });

  it("refuses plans with unknown dependencies or cycles", () => {
    expect(() => validatePlan([step("a", ["x"])])).toThrow(/unknown step x/);
    expect(() => validatePlan([step("a", ["b"]), step("b", ["a"])])).toThrow(/cycle/);
    expect(() => validatePlan([step("a", []), step("a", [])])).toThrow(/twice/);
  });
});
