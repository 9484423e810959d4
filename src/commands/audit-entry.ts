import type { AuditEntry, AuditResult } from "../ports/audit.ts";
import type { CommandOrigin } from "../ports/queue.ts";
import { commandLab } from "./authorize.ts";
import { describeCommand } from "./describe.ts";
import type { Command, CommandKind } from "./types.ts";

/** The `lab` of an audit entry: the lab the command is about, when it names one. */
export function labOf(cmd: Command): { lab?: string } {
  const lab = commandLab(cmd);
  return lab === undefined ? {} : { lab };
}

/** What became of a command, as intake or the worker saw it. */
export interface AuditFacts {
  result: AuditResult;
  /** describeCommand's text: never a value. */
  command: string;
  kind?: CommandKind;
  lab?: string;
  reason?: string;
  jobId?: string;
}

/** The delivery an entry is about: its ids and who sent it from where. */
export interface AuditedDelivery {
  correlationId: string;
  deliveryId: string;
  origin: CommandOrigin;
}

/** What a parsed command gives an audit entry: its text without any value, its kind, its lab. */
export function commandFacts(command: Command): { command: string; kind: CommandKind; lab?: string } {
  const lab = commandLab(command);
  return { command: describeCommand(command), kind: command.kind, ...(lab !== undefined ? { lab } : {}) };
}

/**
 * The one shape of an audit entry, built by intake (a command's first
 * outcome) and by the worker (its job's outcome) alike.
 */
export function auditEntry(at: number, delivery: AuditedDelivery, facts: AuditFacts): AuditEntry {
  const { address, user } = delivery.origin;
  return {
    at,
    correlationId: delivery.correlationId,
    deliveryId: delivery.deliveryId,
    platform: address.platform,
    tenant: address.tenant,
    channel: address.channel,
    userId: user.id,
    ...(user.name !== undefined ? { userName: user.name } : {}),
    command: facts.command,
    result: facts.result,
    ...(facts.kind !== undefined ? { kind: facts.kind } : {}),
    ...(facts.lab !== undefined ? { lab: facts.lab } : {}),
    ...(facts.reason !== undefined ? { reason: facts.reason } : {}),
    ...(facts.jobId !== undefined ? { jobId: facts.jobId } : {}),
  };
}
