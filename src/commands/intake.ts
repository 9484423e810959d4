import { errorCode } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { CommandOrigin, CommandQueue } from "../ports/queue.ts";
import { describeCommand } from "./describe.ts";
import { helpText } from "./help.ts";
import type { Command, ParseResult } from "./types.ts";

/**
 * The one path every chat adapter sends a command through: parse result in,
 * the quick answer out (shown only to the sender), and at most one job queued.
 * Adapters translate; this decides.
 */

export interface Incoming {
  parsed: ParseResult;
  deliveryId: string;
  correlationId: string;
  origin: CommandOrigin;
  receivedAt: number;
}

export type IntakeOutcome =
  | { kind: "rejected"; text: string }
  | { kind: "help"; text: string }
  | { kind: "needs_value"; text: string; command: Extract<Command, { kind: "secret.rotate" }> }
  | { kind: "queued"; text: string; jobId: string }
  | { kind: "duplicate"; text: string; jobId: string }
  | { kind: "unavailable"; text: string };

export interface IntakeDeps {
  queue: CommandQueue;
  logger: Logger;
}

export async function intake(incoming: Incoming, deps: IntakeDeps): Promise<IntakeOutcome> {
  const { parsed, origin, correlationId } = incoming;
  const log = deps.logger.child({
    correlationId,
    platform: origin.address.platform,
    channel: origin.address.channel,
    user: origin.user.id,
  });
  if (!parsed.ok) {
    // The rejected text is not logged: it may hold a value typed in the wrong place.
    log.info("command.rejected");
    return { kind: "rejected", text: parsed.rejection.message };
  }
  const { command } = parsed;
  if (command.kind === "help") return { kind: "help", text: helpText(command.topic) };
  if (command.kind === "secret.rotate" && command.value === undefined) {
    return {
      kind: "needs_value",
      command,
      text: `Type the new value of \`${command.secret}\` in the form that opened; it never appears in the channel.`,
    };
  }
  const description = describeCommand(command);
  try {
    const { jobId, duplicate } = await deps.queue.enqueue({
      deliveryId: incoming.deliveryId,
      correlationId,
      command,
      origin,
      receivedAt: incoming.receivedAt,
    });
    log.info({ command: description, jobId, duplicate }, duplicate ? "command.duplicate" : "command.queued");
    if (duplicate) {
      return {
        kind: "duplicate",
        jobId,
        text: `\`${description}\` was already received; its progress is in the thread.`,
      };
    }
    return {
      kind: "queued",
      jobId,
      text: `Queued \`${description}\` (ref ${correlationId}). Progress will appear in a thread in this channel.`,
    };
  } catch (error) {
    log.error({ code: errorCode(error), command: description }, "command.enqueue_failed");
    return {
      kind: "unavailable",
      text: `labops could not queue \`${description}\` right now (its queue is unreachable). Nothing was changed; try again in a minute (ref ${correlationId}).`,
    };
  }
}
