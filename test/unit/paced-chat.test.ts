import { describe, expect, it } from "vitest";
import { slackRatePolicy } from "../../src/chat/limits.ts";
import { PacedChat } from "../../src/chat/paced.ts";
import { ExternalError } from "../../src/errors.ts";
import { createLogger } from "../../src/log.ts";
import type {
  Card,
  ChatAddress,
  ChatMessage,
  ChatPort,
  ChatUser,
  ConfirmationPrompt,
  ThreadRef,
} from "../../src/ports/chat.ts";
import { NO_METRICS } from "../../src/ports/metrics.ts";
import { RecordingChat } from "../fakes/chat.ts";
import { ManualClock } from "../fakes/clock.ts";
import { InMemoryRateLimiter } from "../fakes/rate-limiter.ts";

/**
 * Virtual time that a sleep moves at once, by the time asked (plus `lag`, once:
 * a wake-up that came late). Nothing in these tests waits for real.
 */
class SleepMovesTime extends ManualClock {
  readonly slept: number[] = [];
  lag = 0;
  constructor() {
    super({ now: 1_000_000 });
  }
  override async sleep(ms: number): Promise<void> {
    this.slept.push(ms);
    this.set(this.now() + ms + this.lag);
    this.lag = 0;
  }
}

/** RecordingChat with calls that can be made to fail. */
class Faulty implements ChatPort {
  readonly inner = new RecordingChat();
  failReply: (() => Error | undefined) | undefined;
  failUpdate: (() => Error | undefined) | undefined;
  openThread(a: ChatAddress, c: Card) {
    return this.inner.openThread(a, c);
  }
  postAlert(a: ChatAddress, c: Card) {
    return this.inner.postAlert(a, c);
  }
  async updateCard(t: ThreadRef, c: Card) {
    const e = this.failUpdate?.();
    if (e) throw e;
    return this.inner.updateCard(t, c);
  }
  async reply(t: ThreadRef, m: ChatMessage) {
    const e = this.failReply?.();
    if (e) throw e;
    return this.inner.reply(t, m);
  }
  notify(a: ChatAddress, u: ChatUser, m: ChatMessage) {
    return this.inner.notify(a, u, m);
  }
  askConfirmation(a: ChatAddress, u: ChatUser, p: ConfirmationPrompt) {
    return this.inner.askConfirmation(a, u, p);
  }
}

const address: ChatAddress = { platform: "slack", tenant: "T1", channel: "C1" };
const card = (n: number): Card => ({ title: `step ${n}`, status: "running" });

/** Virtual time: sleeping moves the clock, so nothing in these tests waits for real. */
function harness(inner: ChatPort = new RecordingChat(), marginMs = 0) {
  const clock = new SleepMovesTime();
  // The limiter and PacedChat read the same virtual clock: with Date.now here,
  // a millisecond of real time spent in reserve() looked like a late wake-up.
  const limiter = new InMemoryRateLimiter(clock);
  const chat = new PacedChat(inner, {
    limiter,
    policy: slackRatePolicy,
    logger: createLogger({ level: "silent" }),
    marginMs,
    clock,
  });
  return { chat, inner, slept: clock.slept, limiter, advance: (ms: number) => clock.set(clock.now() + ms) };
}

describe("PacedChat", () => {
  it("spaces posts to one channel a second apart, shared by threads and replies", async () => {
    const { chat, slept } = harness();
    const t = await chat.openThread(address, card(0));
    await chat.reply(t, "one");
    await chat.openThread(address, card(1));
    expect(slept).toEqual([1_000, 1_000]);
  });

  it("stretches every window by a real-time margin for network jitter, also under a time scale", async () => {
    const { chat, slept } = harness(new RecordingChat(), 50);
    const t = await chat.openThread(address, card(0));
    await chat.reply(t, "one");
    expect(slept).toEqual([1_050]);
  });

  it("takes a new slot when it wakes up late, so calls delayed by a busy event loop do not go out together", async () => {
    const clock = new SleepMovesTime();
    const limiter = new InMemoryRateLimiter(clock);
    let reservations = 0;
    const counting = {
      reserve: (r: Parameters<typeof limiter.reserve>[0]) => {
        reservations += 1;
        return limiter.reserve(r);
      },
      block: limiter.block.bind(limiter),
    };
    clock.lag = 200;
    const chat = new PacedChat(new RecordingChat(), {
      limiter: counting,
      policy: slackRatePolicy,
      logger: createLogger({ level: "silent" }),
      marginMs: 50,
      clock,
    });
    const t = await chat.openThread(address, card(0));
    expect(reservations).toBe(1);
    await chat.reply(t, "woke up 200 ms late the first time");
    expect(reservations).toBe(3);
  });

  it("takes a new slot when the reservation itself answered late (Redis slow), not only when the sleep overran", async () => {
    const clock = new SleepMovesTime();
    const limiter = new InMemoryRateLimiter(clock);
    let reservations = 0;
    let slowAnswers = 1;
    const slow = {
      reserve: async (r: Parameters<typeof limiter.reserve>[0]) => {
        reservations += 1;
        const wait = await limiter.reserve(r);
        // The answer arrives 300 ms after it was asked for: the slot it names is already past.
        if (slowAnswers-- > 0) clock.set(clock.now() + 300);
        return wait;
      },
      block: limiter.block.bind(limiter),
    };
    const chat = new PacedChat(new RecordingChat(), {
      limiter: slow,
      policy: slackRatePolicy,
      logger: createLogger({ level: "silent" }),
      marginMs: 50,
      clock,
    });
    await chat.openThread(address, card(0));
    expect(reservations).toBe(2);
  });

  it("coalesces a burst of card updates: the latest card wins and older ones never follow it", async () => {
    // Here sleeping takes (virtual) time, as in production: the burst arrives while the first slot is awaited.
    const clock = new ManualClock();
    const inner = new RecordingChat();
    const chat = new PacedChat(inner, {
      limiter: new InMemoryRateLimiter(clock),
      policy: slackRatePolicy,
      logger: createLogger({ level: "silent" }),
      clock,
    });
    const thread = await chat.openThread(address, card(0));
    await chat.updateCard(thread, card(1));
    await chat.updateCard(thread, card(2));
    await clock.advance(0);
    for (let i = 3; i <= 20; i++) await chat.updateCard(thread, card(i));
    await clock.advance(10_000);
    await chat.flush();
    const recorded = inner.threads.get(thread.threadId);
    const sent = recorded?.cards.slice(1).map((c) => c.title) ?? [];
    expect(sent.length).toBeLessThanOrEqual(2);
    expect(sent.at(-1)).toBe("step 20");
    const numbers = sent.map((t) => Number(t.split(" ")[1]));
    expect([...numbers].sort((a, b) => a - b)).toEqual(numbers);
  });

  it("sends at most one update per message per second while cards keep coming", async () => {
    const h = harness();
    const thread = await h.chat.openThread(address, card(0));
    await h.chat.updateCard(thread, card(1));
    await h.chat.flush();
    await h.chat.updateCard(thread, card(2));
    await h.chat.flush();
    // The second update of the same message waited for the next second.
    expect(h.slept.filter((ms) => ms > 0).length).toBeGreaterThanOrEqual(1);
    expect((h.inner as RecordingChat).threads.get(thread.threadId)?.card.title).toBe("step 2");
  });

  it("honours a 429: blocks the keys for its Retry-After and tries again", async () => {
    const flaky = new Faulty();
    const inner = flaky.inner;
    let refusals = 1;
    flaky.failReply = () =>
      refusals-- > 0
        ? new ExternalError("slack", "slack_rate_limited", "throttled", { status: 429, retryAfterMs: 7_000 })
        : undefined;
    const h = harness(flaky);
    const thread = await h.chat.openThread(address, card(0));
    await h.chat.reply(thread, "after the wait");
    expect(inner.threads.get(thread.threadId)?.replies).toEqual(["after the wait"]);
    expect(h.slept.some((ms) => ms >= 7_000)).toBe(true);
  });

  it("counts every platform call with its outcome", async () => {
    const calls: string[] = [];
    const metrics = {
      ...NO_METRICS,
      externalCall: (service: string, operation: string, status: string) =>
        calls.push(`${service} ${operation} ${status}`),
    };
    const flaky = new Faulty();
    let refusals = 1;
    flaky.failReply = () =>
      refusals-- > 0
        ? new ExternalError("teams", "teams_rate_limited", "throttled", { status: 429, retryAfterMs: 10 })
        : undefined;
    const clock = new SleepMovesTime();
    const chat = new PacedChat(flaky, {
      limiter: new InMemoryRateLimiter(clock),
      policy: slackRatePolicy,
      logger: createLogger({ level: "silent" }),
      marginMs: 0,
      clock,
      metrics: { metrics, service: "teams" },
    });
    const thread = await chat.openThread(address, card(0));
    await chat.reply(thread, "x");
    expect(calls).toEqual(["teams openThread ok", "teams reply 429", "teams reply ok"]);
  });

  it("gives up on an update the platform keeps refusing, and logs instead of throwing", async () => {
    const broken = new Faulty();
    broken.failUpdate = () => new ExternalError("slack", "message_not_found", "gone");
    const h = harness(broken);
    const thread = await h.chat.openThread(address, card(0));
    await expect(h.chat.updateCard(thread, card(1))).resolves.toBeUndefined();
    await h.chat.flush();
  });
});
