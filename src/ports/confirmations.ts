import type { Command } from "../commands/types.ts";
import type { ChatAddress, ChatUser } from "./chat.ts";

/** Commands that wait for a confirmation. None of them carries a secret value. */
export type ConfirmableCommand = Extract<
  Command,
  { kind: "lab.destroy" | "host.destroy" | "workshop.destroy" }
>;

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

/**
 * How long a confirmation is kept past its `expiresAt`, so that a late press
 * is told "expired" (the core checks `expiresAt`) rather than "unknown".
 */
export const CONFIRMATION_GRACE_MS = 10 * 60_000;

/**
 * Pending confirmations: single use, kept until their `expiresAt` plus a
 * grace period (CONFIRMATION_GRACE_MS unless configured), then forgotten.
 * Shared by every web replica: two presses of the same button, wherever
 * they land, take it once.
 */
export interface ConfirmationStore {
  /** Stores it under its id (a second create of the same id replaces it). */
  create(confirmation: PendingConfirmation): Promise<void>;
  /** Takes the confirmation if `by` is the user it belongs to; it cannot be taken twice. */
  consume(id: string, by: ChatUser): Promise<ConsumeResult>;
}
