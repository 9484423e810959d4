import { verbatim } from "../chat/markup.ts";
import { labArg, shownLabName } from "../labs/names.ts";
import type { ChatUser } from "../ports/chat.ts";
import { type Decision, isAdmin } from "./authorize.ts";
import { describeCommand } from "./describe.ts";
import type { Command } from "./types.ts";

/**
 * Who may act on host clusters. A host is shared by every team on it, so
 * creating and destroying one is for admins (LABOPS_ADMINS) only; anyone may
 * read its status. Unlike a lab, a host belongs to no conversation.
 */

export type HostCommand = Extract<
  Command,
  {
    kind:
      | "host.create"
      | "host.status"
      | "host.destroy"
      | "workshop.create"
      | "workshop.status"
      | "workshop.destroy";
  }
>;

/** Host and workshop commands: about clusters several teams share, so not about one lab. */
export function isHostCommand(command: Command): command is HostCommand {
  return command.kind.startsWith("host.") || command.kind.startsWith("workshop.");
}

export function authorizeHost(command: HostCommand, user: ChatUser, admins: readonly string[]): Decision {
  if (command.kind === "host.status" || command.kind === "workshop.status" || isAdmin(user, admins)) {
    return { ok: true };
  }
  const verb = command.kind.endsWith(".create") ? "create" : "destroy";
  const what = command.kind.startsWith("host.") ? "a host cluster" : "a workshop";
  return {
    ok: false,
    reason: "not_admin",
    text: `Only an admin (LABOPS_ADMINS) can ${verb} ${what}: every team on it depends on it. Ask an admin, or create a dedicated lab with \`lab create NAME\`.`,
  };
}

/** What the confirmation of a destroy names: `lab \`team-a\``, `host \`ws\`` or `workshop \`ws\``. */
export function destroyTarget(
  command: Extract<Command, { kind: "lab.destroy" | "host.destroy" | "workshop.destroy" }>,
): string {
  if (command.kind === "host.destroy") return `host \`${command.host}\``;
  if (command.kind === "workshop.destroy") return `workshop \`${command.prefix}\``;
  return `lab \`${command.lab}\``;
}

type Destroy = Extract<Command, { kind: "lab.destroy" | "host.destroy" | "workshop.destroy" }>;

/** The quick answer that asks for a destroy's confirmation. */
export function destroyAsked(cmd: Destroy, confirmLabel: string): string {
  if (cmd.kind !== "lab.destroy") {
    return `Destroy ${destroyTarget(cmd)}? Press *${confirmLabel}* within 5 minutes, or say \`${describeCommand(cmd)} --yes\`.`;
  }
  return `Destroy lab \`${verbatim(shownLabName(cmd.lab))}\`? Press *${verbatim(confirmLabel)}* within 5 minutes, or say \`lab destroy ${labArg(cmd.lab)} --yes\`.`;
}

/** A destroy's confirmation pressed too late. */
export function destroyExpired(cmd: Destroy): string {
  if (cmd.kind !== "lab.destroy") {
    return `This confirmation expired (they last 5 minutes); ${destroyTarget(cmd)} was not destroyed. Run \`${describeCommand(cmd)}\` again to get a new one.`;
  }
  return `This confirmation expired (they last 5 minutes); \`${verbatim(shownLabName(cmd.lab))}\` was not destroyed. Run \`lab destroy ${labArg(cmd.lab)}\` again to get a new one.`;
}

/** A destroy cancelled. */
export function destroyCancelled(cmd: Destroy): string {
  if (cmd.kind !== "lab.destroy") return `Cancelled: ${destroyTarget(cmd)} stays as it is.`;
  return `Cancelled: lab \`${verbatim(shownLabName(cmd.lab))}\` stays as it is.`;
}
