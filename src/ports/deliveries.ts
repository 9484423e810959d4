/**
 * Chat deliveries already handled: the one de-duplication of commands.
 * Slack retries events it thinks went unanswered (`x-slack-retry-num`), Teams
 * may redeliver an activity, and either may land on any web replica. Intake
 * claims a delivery id before it decides anything, so a retry neither queues,
 * audits, asks nor answers twice.
 */
export interface DeliveryLog {
  /** True the first time `deliveryId` is claimed (by any client of the log); false while that claim stands (`ttlMs`). */
  claim(deliveryId: string, ttlMs: number): Promise<boolean>;
  /** Forgets a claim after a failure that changed nothing, so the platform's retry is served. */
  release(deliveryId: string): Promise<void>;
}
