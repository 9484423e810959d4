import { type Clock, systemClock } from "../../src/clock.ts";
import type { RateLimiter, RateRequest } from "../../src/ports/rate.ts";

/**
 * The rate limiter in memory, on a Clock: the same algorithm as the Redis
 * one, held to the same contract (test/contract/rate-limiter.contract.ts).
 *
 * Each key keeps the times of its recent reservations. A new one goes at the
 * earliest time t, no earlier than the key's last reservation (first come,
 * first served) or its block, such that for every window (W, max) the max-th
 * most recent reservation is at least W before t.
 */
export class InMemoryRateLimiter implements RateLimiter {
  readonly #clock: Pick<Clock, "now">;
  readonly #slots = new Map<string, number[]>();
  readonly #blocked = new Map<string, number>();

  constructor(clock: Pick<Clock, "now"> = systemClock()) {
    this.#clock = clock;
  }

  async reserve(requests: readonly RateRequest[]): Promise<number> {
    const now = this.#clock.now();
    let at = now;
    for (const { key, windows } of requests) {
      const slots = this.#slots.get(key) ?? [];
      at = Math.max(at, this.#blocked.get(key) ?? 0, slots.at(-1) ?? 0);
      for (const { windowMs, max } of windows) {
        const nth = slots.at(-max);
        if (nth !== undefined) at = Math.max(at, nth + windowMs);
      }
    }
    for (const { key, windows } of requests) {
      const slots = this.#slots.get(key) ?? [];
      slots.push(at);
      const keep = Math.max(1, ...windows.map((w) => w.max));
      if (slots.length > keep) slots.splice(0, slots.length - keep);
      this.#slots.set(key, slots);
    }
    return at - now;
  }

  async block(key: string, forMs: number): Promise<void> {
    const until = this.#clock.now() + forMs;
    this.#blocked.set(key, Math.max(this.#blocked.get(key) ?? 0, until));
  }
}
