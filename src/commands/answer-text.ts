import { verbatim } from "../chat/markup.ts";
import type { Command } from "./types.ts";

/**
 * The words of intake's quick answer to a queued command: what was queued,
 * its ref, and where its result will appear, which differs by command. Only
 * commands that run in a thread of their own say so.
 */

/** Where each kind of command answers, once its job has run. */
function whereItAnswers(command: Command): string {
  switch (command.kind) {
    case "lab.create":
    case "lab.destroy":
    case "secret.rotate":
    case "secret.rollback":
      return "Progress will appear in a thread in this channel.";
    case "lab.extend":
      return "The new expiry will be said in the lab's thread.";
    case "lab.list":
    case "lab.status":
    case "secret.list":
      return "The answer will be posted in this channel in a moment.";
    default:
      return "Its answer will appear in this channel.";
  }
}

export interface QueuedFacts {
  /** The command as queued. */
  command: Command;
  /** describeCommand's text of it (never a value). */
  description: string;
  correlationId: string;
  /** "Confirmed by <@U1>." for a confirmed destroy. */
  confirmedBy?: string;
  /** What was asked, when it was answered with another command (a create of a ready lab: its status). */
  asked?: Command;
}

/** The quick answer to a command that was queued. */
export function queuedText(facts: QueuedFacts): string {
  const { command, description, correlationId } = facts;
  if (facts.asked?.kind === "lab.create" && command.kind === "lab.status") {
    return `\`${verbatim(facts.asked.lab)}\` is already ready; here is its status (ref ${verbatim(correlationId)}). It will be posted in this channel in a moment.`;
  }
  const confirmed = facts.confirmedBy ? ` ${facts.confirmedBy}` : "";
  return `Queued \`${verbatim(description)}\` (ref ${verbatim(correlationId)}).${confirmed} ${whereItAnswers(command)}`;
}
