import type { Command } from "../commands/types.ts";
import type { ChatAddress, ChatUser } from "./chat.ts";

/** Commands that wait for a confirmation. None of them carries a secret value. */
export type ConfirmableCommand = Extract<Command, { kind: "lab.destroy" }>;

/** A command waiting for its requester to press Confirm. */
export interface PendingConfirmation {
  id: string;
  command: ConfirmableCommand;
  /** Only this user may confirm or cancel. */
  user: ChatUser;
  /** Where it was asked; the confirmation counts only there. */
  address: ChatAddress;
  correlationId: string;
  createdAt: number;
  expiresAt: number;
}

export type ConsumeResult =
  | { ok: true; confirmation: PendingConfirmation }
  /** `unknown`: never existed, already used, or long expired. `other_user`: left in place for its owner. */
  | { ok: false; reason: "unknown" | "other_user" };

/** Pending confirmations: single use, kept only until they expire. */
export interface ConfirmationStore {
  create(confirmation: PendingConfirmation): Promise<void>;
  /** Takes the confirmation if `by` is the user it belongs to; it cannot be taken twice. */
  consume(id: string, by: ChatUser): Promise<ConsumeResult>;
}
