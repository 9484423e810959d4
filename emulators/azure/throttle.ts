import type { EmulatorClock } from "../shared/clock.ts";

/**
 * Azure's request limits. ARM uses a token bucket per subscription (and per
 * principal and region in reality; per subscription is the part a single bot
 * meets). Key Vault counts transactions per vault in 10-second windows.
 * Refill rates are in emulated time, so a higher time scale refills faster in
 * real time, as everything else speeds up with it.
 */
export interface BucketLimits {
  capacity: number;
  refillPerSecond: number;
}

export interface ThrottleLimits {
  armReads: BucketLimits;
  armWrites: BucketLimits;
  /** Secret sets (Key Vault counts them as creates) per vault per window. */
  vaultCreates: number;
  /** Every other data-plane call per vault per window. */
  vaultOther: number;
  /** Key Vault's window, emulated ms. */
  vaultWindowMs: number;
}

export const AZURE_THROTTLE_LIMITS: Readonly<ThrottleLimits> = Object.freeze({
  armReads: { capacity: 250, refillPerSecond: 25 },
  armWrites: { capacity: 200, refillPerSecond: 10 },
  vaultCreates: 300,
  vaultOther: 4000,
  vaultWindowMs: 10_000,
});

export type TakeResult = { ok: true; remaining: number } | { ok: false; retryAfterEmulatedMs: number };

/** Emulated milliseconds elapsed between two clock readings (`now()` is real time under a scaled clock). */
const emulatedElapsed = (clock: EmulatorClock, from: number, to: number) => (to - from) * clock.scale;

export class TokenBucket {
  readonly #clock: EmulatorClock;
  readonly #limits: BucketLimits;
  #tokens: number;
  #last: number;

  constructor(clock: EmulatorClock, limits: BucketLimits) {
    this.#clock = clock;
    this.#limits = limits;
    this.#tokens = limits.capacity;
    this.#last = clock.now();
  }

  take(): TakeResult {
    const now = this.#clock.now();
    const refill = (emulatedElapsed(this.#clock, this.#last, now) / 1000) * this.#limits.refillPerSecond;
    this.#tokens = Math.min(this.#limits.capacity, this.#tokens + refill);
    this.#last = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return { ok: true, remaining: Math.floor(this.#tokens) };
    }
    const missing = 1 - this.#tokens;
    return { ok: false, retryAfterEmulatedMs: Math.ceil((missing / this.#limits.refillPerSecond) * 1000) };
  }
}

export class WindowCounter {
  readonly #clock: EmulatorClock;
  readonly #windowMs: number;
  #start: number;
  #counts = new Map<string, number>();

  constructor(clock: EmulatorClock, windowMs: number) {
    this.#clock = clock;
    this.#windowMs = windowMs;
    this.#start = clock.now();
  }

  take(kind: string, limit: number): TakeResult {
    const now = this.#clock.now();
    const elapsed = emulatedElapsed(this.#clock, this.#start, now);
    if (elapsed >= this.#windowMs) {
      this.#start = now;
      this.#counts.clear();
    }
    const used = this.#counts.get(kind) ?? 0;
    if (used >= limit) {
      return { ok: false, retryAfterEmulatedMs: Math.max(1, Math.ceil(this.#windowMs - elapsed)) };
    }
    this.#counts.set(kind, used + 1);
    return { ok: true, remaining: limit - used - 1 };
  }
}

/**
 * Headers telling a client when to come back. Azure answers in whole seconds,
 * at least one, so the wait is rounded up to whole emulated seconds (a herd
 * of throttled clients then finds the bucket refilled, as it would in
 * Azure). `Retry-After` carries real seconds (at least one: whole seconds
 * is all the header holds); `retry-after-ms`, which the Azure SDK pipeline
 * reads first, carries the exact scaled wait.
 */
export function retryAfterHeaders(clock: EmulatorClock, emulatedMs: number): Record<string, string> {
  const wholeSeconds = Math.max(1000, Math.ceil(emulatedMs / 1000) * 1000);
  const realMs = Math.max(1, Math.ceil(wholeSeconds / clock.scale));
  return {
    "retry-after": String(Math.max(1, Math.ceil(realMs / 1000))),
    "retry-after-ms": String(realMs),
  };
}
