/**
 * A shared rate limiter: every process that talks to Slack or Teams reserves
 * its calls here, so the platform's limits hold however many workers run.
 */

/** At most `max` operations in any `windowMs`. */
export interface RateWindow {
  windowMs: number;
  max: number;
}

/** One limit an operation counts against, e.g. "posts to channel C1" with 1 per second. */
export interface RateRequest {
  key: string;
  windows: readonly RateWindow[];
}

export interface RateLimiter {
  /**
   * Reserves one operation under every request at once, at the earliest time
   * all their windows allow (and after every earlier reservation of the same
   * keys), and returns how many milliseconds to wait before making the call.
   */
  reserve(requests: readonly RateRequest[]): Promise<number>;
  /** Pushes every later reservation of `key` back by at least `forMs` (a 429's Retry-After). */
  block(key: string, forMs: number): Promise<void>;
}
