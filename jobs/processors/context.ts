import type { Logger } from "../../src/log.ts";
import type { ChatPort } from "../../src/ports/chat.ts";
import type { CommandEnvelope } from "../../src/ports/queue.ts";

/**
 * What a processor gets: the command, a logger with its correlation id, chat,
 * cancellation, and the job's saved state. Nothing of BullMQ: the worker
 * (jobs/worker.ts) builds this from its job, so a processor runs the same
 * under any queue and in a test without one.
 */
export interface ProcessorContext {
  /** The queue's id for this job (stable across its attempts). */
  jobId: string;
  /** 1 on the job's first attempt. */
  attempt: number;
  envelope: CommandEnvelope;
  logger: Logger;
  signal: AbortSignal;
  /** Fired when the worker shuts down: finish what is running, start nothing new (see RunOptions.drain). */
  drain: AbortSignal;
  chat: ChatPort;
  /** State saved by earlier attempts of this job (empty on the first). */
  readonly saved: Readonly<Record<string, unknown>>;
  /**
   * Merges `patch` into the job's saved state before returning. With
   * `dropValue`, the same write removes the sealed secret value from the job:
   * once a value is in Key Vault, the queue keeps no copy of it, sealed or not.
   */
  checkpoint(patch: Record<string, unknown>, options?: { dropValue?: boolean }): Promise<void>;
}

/** A job can end well and still report a failure it already told the user about (a failed step). */
export type ProcessorOutcome = { failed: string } | undefined;

// biome-ignore lint/suspicious/noConfusingVoidType: processors that report nothing are plain async functions (Promise<void>).
export type CommandProcessor = (context: ProcessorContext) => Promise<ProcessorOutcome | void>;
