import type { Clock } from "../../src/clock.ts";
import type { ChatUser } from "../../src/ports/chat.ts";
import {
  CONFIRMATION_GRACE_MS,
  type ConfirmationStore,
  type ConsumeResult,
  type PendingConfirmation,
} from "../../src/ports/confirmations.ts";

/** Pending confirmations in memory, forgotten on a Clock once past `expiresAt` plus the grace period. */
export class MemoryConfirmationStore implements ConfirmationStore {
  readonly #clock: Pick<Clock, "now">;
  readonly #graceMs: number;
  readonly #pending = new Map<string, PendingConfirmation>();

  constructor(clock: Pick<Clock, "now">, options: { graceMs?: number } = {}) {
    this.#clock = clock;
    this.#graceMs = options.graceMs ?? CONFIRMATION_GRACE_MS;
  }

  async create(confirmation: PendingConfirmation): Promise<void> {
    this.#pending.set(confirmation.id, structuredClone(confirmation));
  }

  async consume(id: string, by: ChatUser): Promise<ConsumeResult> {
    const found = this.#pending.get(id);
    if (!found || this.#clock.now() > found.expiresAt + this.#graceMs) {
      this.#pending.delete(id);
      return { ok: false, reason: "unknown" };
    }
    if (found.user.platform !== by.platform || found.user.id !== by.id) {
      return { ok: false, reason: "other_user" };
    }
    this.#pending.delete(id);
    return { ok: true, confirmation: found };
  }
}
