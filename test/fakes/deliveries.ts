import type { Clock } from "../../src/clock.ts";
import type { DeliveryLog } from "../../src/ports/deliveries.ts";

/** Delivery claims in memory, each forgotten on a Clock once its `ttlMs` has passed. */
export class MemoryDeliveryLog implements DeliveryLog {
  readonly #clock: Pick<Clock, "now">;
  readonly #claims = new Map<string, number>();

  constructor(clock: Pick<Clock, "now">) {
    this.#clock = clock;
  }

  async claim(deliveryId: string, ttlMs: number): Promise<boolean> {
    const now = this.#clock.now();
    const until = this.#claims.get(deliveryId);
    if (until !== undefined && now <= until) return false;
    this.#claims.set(deliveryId, now + ttlMs);
    return true;
  }

  async release(deliveryId: string): Promise<void> {
    this.#claims.delete(deliveryId);
  }
}
