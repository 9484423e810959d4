import type { Command } from "../commands/types.ts";
import type { AuditEntry } from "./audit.ts";
import type { ChatAddress, ChatUser, ThreadRef } from "./chat.ts";
import type { TraceCarrier } from "./tracing.ts";

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
 * chat platform (Slack trigger_id or event_id, Teams activity id), or names
 * the schedule that raised it (`expire.<lab>.<expiresAt>`).
 */
export interface CommandEnvelope {
  deliveryId: string;
  correlationId: string;
  command: Command;
  origin: CommandOrigin;
  receivedAt: number;
  /**
   * W3C trace context of the span that queued it (`traceparent`, never
   * baggage): the worker's job span continues that trace on every attempt,
   * a resume on another worker included. Absent when tracing is off.
   */
  trace?: TraceCarrier;
}

export interface EnqueueResult {
  jobId: string;
  /** The audit entry given with the job was recorded with it (see `enqueue`). */
  audited?: boolean;
}

/**
 * Jobs for the workers, taken in the order they were queued. A job's id
 * follows from its delivery id, so the same delivery enqueued again while its
 * job is kept adds nothing (an enqueue that failed after it was written, then
 * retried, makes no second job). Telling a retried chat delivery from a new
 * one is the DeliveryLog's work, before anything is enqueued.
 */
export interface CommandQueue {
  /**
   * `audit`, when given, is the entry saying the command was queued. A queue
   * that can store it in the same step as the job does so, with the job's id,
   * and only once the job is stored: then `audited` is true. Otherwise (false
   * or absent) the caller records it, as it does every other entry.
   */
  enqueue(envelope: CommandEnvelope, audit?: AuditEntry): Promise<EnqueueResult>;
  /**
   * After an enqueue that failed (its answer lost to a timeout, say): what
   * that enqueue did if its job is stored after all, else undefined. Throws
   * when the store cannot tell. A queue without it is taken at its failure.
   */
  recover?(envelope: CommandEnvelope, audit?: AuditEntry): Promise<EnqueueResult | undefined>;
}
