import type { Clock } from "../clock.ts";
import { ExternalError, errorCode } from "../errors.ts";
import type { Logger } from "../log.ts";
import type {
  Card,
  ChatAddress,
  ChatMessage,
  ChatPort,
  ChatUser,
  ConfirmationPrompt,
  ThreadRef,
} from "../ports/chat.ts";
import type { ExternalService, Metrics } from "../ports/metrics.ts";
import type { RateLimiter, RateRequest } from "../ports/rate.ts";
import { inSpan, NO_TRACING, type SpanRef, type TraceSpan, type Tracing } from "../ports/tracing.ts";
import { type ChatRatePolicy, JITTER_MARGIN_MS, scaleRequests } from "./limits.ts";

export interface PacedChatOptions {
  limiter: RateLimiter;
  policy: ChatRatePolicy;
  logger: Logger;
  /**
   * Waits for slots and notices a late wake-up. Its `timeScale` (LABOPS_TIME_SCALE)
   * divides the policy's windows; a 429's Retry-After never is.
   */
  clock: Clock;
  /** Tries per call while the platform still answers 429 (each after its Retry-After). */
  attempts?: number;
  /** Real milliseconds added to every window (JITTER_MARGIN_MS by default). */
  marginMs?: number;
  /** externalCall(service, operation, status, seconds) for every platform call (the wait for a slot not counted). */
  metrics?: { metrics: Metrics; service: ExternalService };
  /** A client span per call made inside a trace (a job's, a rotation's); NO_TRACING when absent. */
  tracing?: Tracing;
}

interface PendingUpdate {
  thread: ThreadRef;
  /** The newest card not yet sent; undefined once the drain took it. */
  latest: Card | undefined;
  drained: Promise<void>;
  /** The span active where the newest card was given (its step's): the send's span is its child. */
  trace: SpanRef | undefined;
}

/** Milliseconds to wait when `error` is the platform saying "too many requests", else undefined. */
export function rateLimitedFor(error: unknown): number | undefined {
  if (error instanceof ExternalError && error.status === 429) return error.retryAfterMs ?? 1_000;
  return undefined;
}

/**
 * Keeps a platform ChatPort inside the platform's limits, for every process
 * at once: each call first reserves its slot in the shared RateLimiter and
 * waits for it. Card updates are coalesced per message: while one is waiting
 * for its slot, newer cards replace the waiting one, so a burst of step
 * changes becomes one update a second carrying the latest state (never an
 * older card after a newer one). A 429 that slips through anyway (another
 * app, a limit we do not know) blocks the keys for its Retry-After and the
 * call is made again.
 *
 * Coalescing is per process; the limits are not: two workers updating one
 * message (a job that moved after a crash) each wait for the shared slots.
 */
export class PacedChat implements ChatPort {
  readonly #inner: ChatPort;
  readonly #limiter: RateLimiter;
  readonly #policy: ChatRatePolicy;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #attempts: number;
  readonly #marginMs: number;
  readonly #metrics: PacedChatOptions["metrics"];
  readonly #tracing: Tracing;
  readonly #updates = new Map<string, PendingUpdate>();

  constructor(inner: ChatPort, options: PacedChatOptions) {
    this.#inner = inner;
    this.#limiter = options.limiter;
    this.#policy = options.policy;
    this.#logger = options.logger.child({ component: "chat.paced" });
    this.#clock = options.clock;
    this.#attempts = options.attempts ?? 5;
    this.#marginMs = options.marginMs ?? JITTER_MARGIN_MS;
    this.#metrics = options.metrics;
    this.#tracing = options.tracing ?? NO_TRACING;
  }

  get policy(): ChatRatePolicy {
    return this.#policy;
  }

  openThread(address: ChatAddress, card: Card): Promise<ThreadRef> {
    return this.paced(this.#policy.post(address), () => this.#inner.openThread(address, card), "openThread");
  }

  postAlert(address: ChatAddress, card: Card): Promise<ThreadRef> {
    return this.paced(this.#policy.post(address), () => this.#inner.postAlert(address, card), "postAlert");
  }

  /** Not paced: asked only when a job resumes after a crash. */
  async hasReply(thread: ThreadRef, text: string): Promise<boolean> {
    return (await this.#inner.hasReply?.(thread, text)) ?? false;
  }

  reply(thread: ThreadRef, message: ChatMessage): Promise<void> {
    return this.paced(this.#policy.reply(thread), () => this.#inner.reply(thread, message), "reply");
  }

  notify(address: ChatAddress, user: ChatUser, message: ChatMessage): Promise<void> {
    return this.paced(
      this.#policy.notify(address, user),
      () => this.#inner.notify(address, user, message),
      "notify",
    );
  }

  askConfirmation(address: ChatAddress, user: ChatUser, prompt: ConfirmationPrompt): Promise<void> {
    return this.paced(
      this.#policy.notify(address, user),
      () => this.#inner.askConfirmation(address, user, prompt),
      "askConfirmation",
    );
  }

  async updateCard(thread: ThreadRef, card: Card): Promise<void> {
    const key = messageKey(thread);
    const pending = this.#updates.get(key);
    const trace = this.#tracing.active();
    if (pending) {
      pending.latest = card;
      pending.thread = thread;
      pending.trace = trace;
      return;
    }
    const entry: PendingUpdate = { thread, latest: card, drained: Promise.resolve(), trace };
    this.#updates.set(key, entry);
    entry.drained = this.#drain(key, entry);
  }

  /** Sends the waiting card of one message at its next slot, again while newer ones arrive. */
  async #drain(key: string, entry: PendingUpdate): Promise<void> {
    for (;;) {
      const waiting = entry.latest;
      if (waiting === undefined) {
        this.#updates.delete(key);
        return;
      }
      let sent: Card = waiting;
      try {
        // Traced under whoever gave the newest card, not under the step that started this drain.
        await this.#tracing.withActive(entry.trace, () =>
          this.paced(
            this.#policy.update(entry.thread),
            async () => {
              // The slot has come: send whatever is newest now, not what was newest when it was reserved.
              sent = entry.latest ?? sent;
              await this.#inner.updateCard(entry.thread, sent);
            },
            "updateCard",
          ),
        );
      } catch (error) {
        // Progress is a view: a failed update is logged, and the next card tries again.
        this.#logger.warn({ code: errorCode(error), message: describe(entry) }, "chat.update_dropped");
      }
      // A card that arrived during the send is still waiting; anything older is done with.
      if (entry.latest === sent) entry.latest = undefined;
    }
  }

  /**
   * Runs `call` once every request's limits allow it; on a 429 blocks the
   * keys for the Retry-After and tries again. Public so an adapter can pace a
   * call it makes itself (Teams' answer within a turn) under the same keys.
   */
  paced<T>(requests: RateRequest[], call: () => Promise<T>, operation = "call"): Promise<T> {
    const tracing = this.#tracing;
    if (!tracing.active()) return this.#paced(requests, call, operation, undefined);
    const attributes = { "labops.chat.method": operation, "labops.chat.platform": this.#metrics?.service };
    return inSpan(tracing, `labops.chat ${operation}`, { kind: "client", attributes }, (span) =>
      this.#paced(requests, call, operation, span),
    );
  }

  async #paced<T>(
    requests: RateRequest[],
    call: () => Promise<T>,
    operation: string,
    span: TraceSpan | undefined,
  ): Promise<T> {
    const scaled = scaleRequests(requests, this.#clock.timeScale, this.#marginMs);
    for (let attempt = 1; ; attempt++) {
      await this.#slot(scaled);
      const started = performance.now();
      try {
        const result = await call();
        this.#count(operation, "ok", started);
        return result;
      } catch (error) {
        this.#count(operation, rateLimitedFor(error) === undefined ? errorCode(error) : "429", started);
        const retryAfterMs = rateLimitedFor(error);
        if (retryAfterMs === undefined || attempt >= this.#attempts) throw error;
        this.#logger.warn({ retryAfterMs, keys: requests.map((r) => r.key), attempt }, "chat.rate_limited");
        span?.addEvent("rate_limited", { "labops.delay_ms": retryAfterMs, "labops.attempt": attempt });
        await Promise.all(requests.map((r) => this.#limiter.block(r.key, retryAfterMs)));
      }
    }
  }

  #count(operation: string, status: string, started: number): void {
    this.#metrics?.metrics.externalCall(
      this.#metrics.service,
      operation,
      status,
      (performance.now() - started) / 1000,
    );
  }

  /**
   * Waits for a reserved slot. A caller that wakes up well after its slot (the
   * event loop was busy) takes a new one instead: all the timers due during a
   * stall fire together, and their calls would reach the platform as one burst.
   * The slot is due `wait` after the reservation was asked for, not after its
   * answer arrived: an answer that came late (Redis slow or restarting) is a
   * slot already missed.
   */
  async #slot(requests: RateRequest[]): Promise<void> {
    for (let tries = 0; ; tries++) {
      const asked = this.#clock.now();
      const wait = await this.#limiter.reserve(requests);
      const due = asked + wait;
      if (wait > 0) await this.#clock.sleep(wait);
      if (this.#clock.now() - due <= this.#marginMs / 2 || tries >= 3) return;
    }
  }

  /** Resolves when every card accepted so far has been delivered (or given up). */
  async flush(): Promise<void> {
    while (this.#updates.size > 0) {
      await Promise.all([...this.#updates.values()].map((u) => u.drained));
    }
  }
}

function messageKey(thread: ThreadRef): string {
  const { platform, tenant, channel } = thread.address;
  return `${platform}:${tenant}:${channel}:${thread.cardId}`;
}

function describe(entry: PendingUpdate): string {
  return `${entry.thread.address.platform}:${entry.thread.address.channel}:${entry.thread.cardId}`;
}
