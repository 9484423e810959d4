import { verbatim } from "../chat/markup.ts";
import { errorCode } from "../errors.ts";
import type { LineLogger } from "../log.ts";
import { queuedText } from "./answer-text.ts";
import { auditEntry, labOf } from "./audit-entry.ts";
import { mention } from "./authorize.ts";
import { describeCommand } from "./describe.ts";
import type { Decided, Incoming, IntakeDeps } from "./intake.ts";
import type { Command } from "./types.ts";

/**
 * The last step of intake for a command that goes on: its job, and with it
 * the audit entry saying it was queued. The entry is handed to the queue,
 * which stores it in the same step as the job where it can (the Redis queue
 * sends both in one write, the entry only kept if the job is); an
 * acknowledgement then waits for one round trip to the store, not two.
 */
export async function enqueue(
  incoming: Incoming,
  cmd: Command,
  correlationId: string,
  deps: IntakeDeps,
  log: LineLogger,
  asked?: Command,
): Promise<Decided> {
  const description = describeCommand(cmd);
  const audit = { command: description, kind: cmd.kind, ...labOf(cmd) };
  const delivery = { correlationId, deliveryId: incoming.deliveryId, origin: incoming.origin };
  const envelope = {
    deliveryId: incoming.deliveryId,
    correlationId,
    command: cmd,
    origin: incoming.origin,
    receivedAt: incoming.receivedAt,
  };
  const entry = auditEntry(deps.clock.now(), delivery, { result: "queued", ...audit });
  try {
    const { jobId, audited } = await deps.queue.enqueue(envelope, entry).catch(async (error: unknown) => {
      // An answer lost (a timeout) says nothing of the job: asked once more before saying nothing changed.
      const stored = await deps.queue.recover?.(envelope, entry).catch(() => undefined);
      if (!stored) throw error;
      log.warn({ code: errorCode(error), command: description }, "command.enqueue_recovered");
      return stored;
    });
    log.info({ command: description, jobId }, "command.queued");
    const confirmedBy = cmd.kind.endsWith(".destroy")
      ? `Confirmed by ${mention(incoming.origin.user)}.`
      : undefined;
    return {
      outcome: {
        kind: "queued",
        jobId,
        text: queuedText({
          command: cmd,
          description,
          correlationId,
          ...(confirmedBy ? { confirmedBy } : {}),
          ...(asked ? { asked } : {}),
        }),
      },
      audit: { result: "queued", ...audit },
      correlationId,
      ...(audited ? { audited: true } : {}),
    };
  } catch (error) {
    await deps.deliveries.release(incoming.deliveryId).catch(() => undefined);
    log.error({ code: errorCode(error), command: description }, "command.enqueue_failed");
    return {
      outcome: {
        kind: "unavailable",
        text: `labops could not queue \`${verbatim(description)}\` right now (its queue is unreachable). Nothing was changed; try again in a minute (ref ${verbatim(correlationId)}).`,
      },
      audit: { result: "unavailable", ...audit, reason: errorCode(error) },
      correlationId,
    };
  }
}
