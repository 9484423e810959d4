import type { Clock } from "../../src/clock.ts";
import type { Leases } from "../../src/ports/leases.ts";

/** Leases in memory, lapsing on a Clock as Redis's lapse on its own (held until `ttlMs` has passed). */
export class MemoryLeases implements Leases {
  readonly #clock: Pick<Clock, "now">;
  readonly #leases = new Map<string, { holder: string; until: number }>();
  /** How many times `renew` was asked, granted or not (tests count renewals). */
  renewals = 0;

  constructor(clock: Pick<Clock, "now">) {
    this.#clock = clock;
  }

  async acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const current = this.holderNow(name);
    if (current !== undefined && current !== holder) return false;
    this.#leases.set(name, { holder, until: this.#clock.now() + ttlMs });
    return true;
  }

  async renew(name: string, holder: string, ttlMs: number): Promise<boolean> {
    this.renewals += 1;
    if (this.holderNow(name) !== holder) return false;
    this.#leases.set(name, { holder, until: this.#clock.now() + ttlMs });
    return true;
  }

  async release(name: string, holder: string): Promise<void> {
    if (this.holderNow(name) === holder) this.#leases.delete(name);
  }

  async holder(name: string): Promise<string | undefined> {
    return this.holderNow(name);
  }

  /** The holder at this instant, for what a lease fences (one atomic step, as a Lua script is). */
  holderNow(name: string): string | undefined {
    const lease = this.#leases.get(name);
    if (lease === undefined) return undefined;
    if (this.#clock.now() > lease.until) {
      this.#leases.delete(name);
      return undefined;
    }
    return lease.holder;
  }

  /** Test setup: hands `name` to `holder` whoever had it (a takeover without waiting for a lapse). */
  hand(name: string, holder: string, ttlMs: number): void {
    this.#leases.set(name, { holder, until: this.#clock.now() + ttlMs });
  }
}
