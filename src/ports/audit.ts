import type { CommandKind } from "../commands/types.ts";
import type { Platform } from "./chat.ts";

/**
 * What became of one command, as the audit trail records it. Every command
 * that reaches intake gets one entry (a retried delivery does not get a
 * second); jobs may append their own outcome with the same correlation id.
 */
export type AuditResult =
  | "queued"
  | "rejected"
  | "refused"
  | "confirmation_requested"
  | "cancelled"
  | "answered"
  | "unavailable"
  | "succeeded"
  | "failed";

/** One audit entry. Never holds a secret value: `command` is describeCommand's text. */
export interface AuditEntry {
  at: number;
  correlationId: string;
  /** The chat delivery (Slack trigger or event id, Teams activity id). */
  deliveryId: string;
  platform: Platform;
  tenant: string;
  channel: string;
  /** Platform user id (Slack user id, Teams AAD object id). */
  userId: string;
  userName?: string;
  /** The command as a user would type it, without any value; "(unreadable)" when it did not parse. */
  command: string;
  kind?: CommandKind;
  lab?: string;
  result: AuditResult;
  /** A short code saying why (e.g. `not_owner`, `wrong_channel`, `confirmation_expired`). */
  reason?: string;
  jobId?: string;
}

export interface AuditQuery {
  /** Only entries about this lab. */
  lab?: string;
  /** At most this many, newest first (default 20). */
  limit?: number;
}

export interface AuditLog {
  record(entry: AuditEntry): Promise<void>;
  /** The most recent entries, newest first. */
  recent(query?: AuditQuery): Promise<AuditEntry[]>;
}
