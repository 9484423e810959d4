import type { Command } from "../commands/types.ts";
import type { ChatAddress, ChatUser, ThreadRef } from "./chat.ts";

/** Who asked, where, and how to answer them. */
export interface CommandOrigin {
  address: ChatAddress;
  user: ChatUser;
  /** Slack's response_url for the command, when there is one (valid 30 min, 5 uses). */
  responseUrl?: string;
  /** Set when the command came from a button under an existing thread. */
  thread?: ThreadRef;
}

/**
 * One accepted command on its way to a worker. `deliveryId` comes from the
 * chat platform (Slack trigger_id or event_id, Teams activity id) so that a
 * retried or replayed delivery maps to the same job.
 */
export interface CommandEnvelope {
  deliveryId: string;
  correlationId: string;
  command: Command;
  origin: CommandOrigin;
  receivedAt: number;
}

export interface EnqueueResult {
  jobId: string;
  /** True when this delivery had been accepted before: nothing new was queued. */
  duplicate: boolean;
}

export interface CommandQueue {
  enqueue(envelope: CommandEnvelope): Promise<EnqueueResult>;
}
