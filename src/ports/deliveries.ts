/**
 * Chat deliveries already handled. Slack retries events it thinks went
 * unanswered (`x-slack-retry-num`) and Teams may redeliver an activity; a
 * delivery id is claimed once so a retry neither queues, audits nor answers twice.
 */
export interface DeliveryLog {
  /** True the first time `deliveryId` is claimed within `ttlMs`. */
  claim(deliveryId: string, ttlMs: number): Promise<boolean>;
  /** Forgets a claim after a failure that changed nothing, so the platform's retry is served. */
  release(deliveryId: string): Promise<void>;
}
