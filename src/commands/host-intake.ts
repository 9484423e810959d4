import type { ChatUser } from "../ports/chat.ts";
import { type Decision, isAdmin } from "./authorize.ts";
import type { Command } from "./types.ts";

/**
 * Who may act on host clusters. A host is shared by every team on it, so
 * creating and destroying one is for admins (LABOPS_ADMINS) only; anyone may
 * read its status. Unlike a lab, a host belongs to no conversation.
 */

export type HostCommand = Extract<Command, { kind: "host.create" | "host.status" | "host.destroy" }>;

export function isHostCommand(command: Command): command is HostCommand {
  return command.kind.startsWith("host.");
}

export function authorizeHost(command: HostCommand, user: ChatUser, admins: readonly string[]): Decision {
  if (command.kind === "host.status" || isAdmin(user, admins)) return { ok: true };
  const verb = command.kind === "host.create" ? "create" : "destroy";
  return {
    ok: false,
    reason: "not_admin",
    text: `Only an admin (LABOPS_ADMINS) can ${verb} a host cluster: every team on it depends on it. Ask an admin, or create a dedicated lab with \`lab create NAME\`.`,
  };
}

/** What the confirmation of a destroy names: `lab \`team-a\`` or `host \`workshop\``. */
export function destroyTarget(command: Extract<Command, { kind: "lab.destroy" | "host.destroy" }>): string {
  return command.kind === "host.destroy" ? `host \`${command.host}\`` : `lab \`${command.lab}\``;
}
