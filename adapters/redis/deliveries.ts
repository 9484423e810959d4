import type { Redis } from "ioredis";
import type { DeliveryLog } from "../../src/ports/deliveries.ts";

/** Delivery claims as SET NX keys with an expiry. */
export class RedisDeliveryLog implements DeliveryLog {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  #key(id: string): string {
    return `${this.#prefix}:seen:${id}`;
  }

  async claim(deliveryId: string, ttlMs: number): Promise<boolean> {
    const ok = await this.#redis.set(this.#key(deliveryId), "1", "PX", Math.max(1, Math.round(ttlMs)), "NX");
    return ok !== null;
  }

  async release(deliveryId: string): Promise<void> {
    await this.#redis.del(this.#key(deliveryId));
  }
}
