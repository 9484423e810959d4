/**
 * Server-side rate limits, as the emulated platforms enforce them: a request
 * over a limit is refused (429 + Retry-After) and not counted. Two shapes:
 * - a token bucket (a sustained rate with a burst), for limits documented as
 *   "N per second, short bursts allowed" (Slack's posting limit);
 * - sliding windows (at most `max` in any `windowMs`), for limits documented
 *   as tables of periods (Teams, and Slack's per-minute tiers).
 * Windows and rates follow the emulator's time scale, so a test run ten times
 * faster than the platform sees the same limits ten times tighter.
 */

export type LimitRule =
  | { kind: "bucket"; perSecond: number; burst: number }
  | { kind: "windows"; windows: ReadonlyArray<{ windowMs: number; max: number }> };

export type LimitVerdict = { ok: true } | { ok: false; retryAfterMs: number; rule: string };

interface Bucket {
  tokens: number;
  at: number;
}

export class ServerRateLimits {
  readonly #now: () => number;
  readonly #scale: number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #logs = new Map<string, number[]>();
  /** Refused requests, per key: what a test asserts is zero. */
  readonly refused = new Map<string, number>();

  constructor(options: { timeScale?: number; now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#scale = options.timeScale ?? 1;
  }

  /** Counts one request against every rule; refuses it (counting nothing) when any rule is full. */
  take(checks: ReadonlyArray<{ key: string; rule: LimitRule }>): LimitVerdict {
    const now = this.#now();
    for (const { key, rule } of checks) {
      const wait = this.#wait(key, rule, now);
      if (wait > 0) {
        this.refused.set(key, (this.refused.get(key) ?? 0) + 1);
        return { ok: false, retryAfterMs: wait, rule: key };
      }
    }
    for (const { key, rule } of checks) this.#count(key, rule, now);
    return { ok: true };
  }

  /** Total requests refused so far. */
  get refusedTotal(): number {
    let n = 0;
    for (const v of this.refused.values()) n += v;
    return n;
  }

  #wait(key: string, rule: LimitRule, now: number): number {
    if (rule.kind === "bucket") {
      const rate = (rule.perSecond * this.#scale) / 1000;
      const b = this.#refill(key, rule, now);
      return b.tokens >= 1 ? 0 : Math.ceil((1 - b.tokens) / rate);
    }
    const log = this.#logs.get(key) ?? [];
    let wait = 0;
    for (const { windowMs, max } of rule.windows) {
      const w = windowMs / this.#scale;
      const inWindow = log.filter((t) => t > now - w);
      if (inWindow.length >= max) {
        const oldest = inWindow[inWindow.length - max] ?? now;
        wait = Math.max(wait, Math.ceil(oldest + w - now) || 1);
      }
    }
    return wait;
  }

  #refill(key: string, rule: Extract<LimitRule, { kind: "bucket" }>, now: number): Bucket {
    const rate = (rule.perSecond * this.#scale) / 1000;
    const b = this.#buckets.get(key) ?? { tokens: rule.burst, at: now };
    b.tokens = Math.min(rule.burst, b.tokens + (now - b.at) * rate);
    b.at = now;
    this.#buckets.set(key, b);
    return b;
  }

  #count(key: string, rule: LimitRule, now: number): void {
    if (rule.kind === "bucket") {
      this.#refill(key, rule, now).tokens -= 1;
      return;
    }
    const longest = Math.max(...rule.windows.map((w) => w.windowMs)) / this.#scale;
    const log = (this.#logs.get(key) ?? []).filter((t) => t > now - longest);
    log.push(now);
    this.#logs.set(key, log);
  }
}

/** Retry-After as HTTP carries it: whole seconds, at least one. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
