import { randomBytes } from "node:crypto";
import { shownLabName } from "../labs/names.ts";
import { hostedLabNamespace } from "../labs/naming.ts";
import type { ChatAddress, ChatUser, ConfirmationPrompt } from "../ports/chat.ts";
import type { ConfirmableCommand, PendingConfirmation } from "../ports/confirmations.ts";

/** How long a destroy waits for its Confirm: long enough to read, short enough not to be pressed by accident later. */
export const CONFIRMATION_TTL_MS = 5 * 60_000;

/** Unguessable, so a confirmation cannot be pressed by forging a button value. */
export function newConfirmationId(): string {
  return `cf-${randomBytes(16).toString("base64url")}`;
}

const CONFIRMATION_ID = /^cf-[A-Za-z0-9_-]{22}$/;

/** Whether `id` has the shape newConfirmationId gives (a button's value is checked against it). */
export function isConfirmationId(id: string): boolean {
  return CONFIRMATION_ID.test(id);
}

export function pendingDestroy(options: {
  command: ConfirmableCommand;
  user: ChatUser;
  address: ChatAddress;
  correlationId: string;
  now: number;
  id?: string;
  ttlMs?: number;
}): PendingConfirmation {
  return {
    id: options.id ?? newConfirmationId(),
    command: { ...options.command, confirmed: true },
    user: options.user,
    address: options.address,
    correlationId: options.correlationId,
    createdAt: options.now,
    expiresAt: options.now + (options.ttlMs ?? CONFIRMATION_TTL_MS),
  };
}

/**
 * The prompt of a destroy. `host`: the host cluster the lab lives on (its
 * record's `host`), so the prompt names what goes (its namespace there, its
 * own resource group) and what stays (the host, the other teams).
 */
export function confirmationPrompt(pending: PendingConfirmation, host?: string): ConfirmationPrompt {
  const { command } = pending;
  if (command.kind === "host.destroy") {
    const host = command.host;
    return {
      confirmationId: pending.id,
      title: `Destroy host ${host}?`,
      text: command.force
        ? `This destroys every lab on it first (their namespaces, resource groups and vaults), then deletes the host's resource group and its cluster. It cannot be undone.`
        : `This deletes the host's resource group and its cluster. It is refused while labs live on it. It cannot be undone.`,
      confirmLabel: `Destroy ${host}`,
      cancelLabel: "Cancel",
      expiresAt: pending.expiresAt,
    };
  }
  if (command.kind === "workshop.destroy") {
    const prefix = command.prefix;
    return {
      confirmationId: pending.id,
      title: `Destroy workshop ${prefix}?`,
      text: `This destroys every lab \`${prefix}-N\` (namespaces, resource groups, vaults), then the host \`${prefix}\` if the workshop made it and no other lab is on it. It cannot be undone.`,
      confirmLabel: `Destroy ${prefix}`,
      cancelLabel: "Cancel",
      expiresAt: pending.expiresAt,
    };
  }
  const lab = shownLabName(command.lab);
  return {
    confirmationId: pending.id,
    title: `Destroy lab ${lab}?`,
    text:
      host === undefined
        ? `This deletes its resource group (the AKS cluster, the Key Vault and its secrets, the identity) and purges the vault. It cannot be undone.`
        : `This deletes its namespace \`${hostedLabNamespace(command.lab)}\` on host \`${host}\` and its resource group (the Key Vault and its secrets, the identity), and purges the vault. The host and the other labs on it stay. It cannot be undone.`,
    confirmLabel: `Destroy ${lab}`,
    cancelLabel: "Cancel",
    expiresAt: pending.expiresAt,
  };
}
