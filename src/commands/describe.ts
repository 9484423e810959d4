import { shownLabName } from "../labs/names.ts";
import type { Command } from "./types.ts";

/** The command as a user would type it, without any secret value: safe for chat, logs and audit. */
export function describeCommand(command: Command): string {
  switch (command.kind) {
    case "lab.create":
      return `lab create ${command.lab}${command.host === undefined ? "" : ` --on ${command.host}`}`;
    case "lab.destroy":
      return `lab destroy ${shownLabName(command.lab)}`;
    case "lab.status":
      return command.lab === undefined ? "lab status" : `lab status ${command.lab}`;
    case "lab.list":
      return "lab list";
    case "lab.extend":
      return `lab extend ${command.lab}`;
    case "lab.grant":
    case "lab.revoke":
      return `${command.kind.replace(".", " ")} ${command.lab} <@${command.member}>`;
    case "secret.rotate":
      return `secret rotate ${command.secret}${command.lab === undefined ? "" : ` --lab ${command.lab}`}${command.create ? " --new" : ""}`;
    case "secret.list":
      return `secret list${command.lab === undefined ? "" : ` --lab ${command.lab}`}`;
    case "secret.rollback":
      return `secret rollback ${command.secret}${command.lab === undefined ? "" : ` --lab ${command.lab}`}`;
    case "host.create":
      return `host create ${command.host}${command.nodeCount === undefined ? "" : ` --nodes ${command.nodeCount}`}`;
    case "host.status":
      return command.host === undefined ? "host status" : `host status ${command.host}`;
    case "host.destroy":
      return `host destroy ${command.host}${command.force ? " --force" : ""}`;
    case "workshop.create":
      return `workshop create ${command.prefix} --teams ${command.teams}${command.host === undefined ? "" : ` --on ${command.host}`}`;
    case "workshop.status":
      return `workshop status ${command.prefix}`;
    case "workshop.destroy":
      return `workshop destroy ${command.prefix}`;
    case "help":
      return "help";
  }
}
