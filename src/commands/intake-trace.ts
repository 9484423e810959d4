import type { Tracing } from "../ports/tracing.ts";
import { type Incoming, type IntakeDeps, type IntakeOutcome, intake } from "./intake.ts";

/** How a delivery reached intake: a slash command, a button, a form, or a message (a mention, Teams). */
export type DeliveryKind = "command" | "action" | "view" | "message";

/**
 * intake() as the root of a command's trace: one server span,
 * `labops.intake`, active while intake decides. It is also the job's
 * producer: the queue puts its context in the job (no span of its own, one
 * span per command on the acknowledgement's path), so the worker's job span,
 * its plan, steps and calls are its descendants. A `traceparent` a platform
 * might send is not trusted: every delivery starts a trace of its own. Its
 * facts are set once, when intake has answered. With tracing off it is
 * intake() itself: no span, nothing allocated on the acknowledgement's path.
 */
export function tracedIntake(
  incoming: Incoming,
  deps: IntakeDeps,
  delivery: DeliveryKind,
): Promise<IntakeOutcome> {
  const tracing = deps.tracing;
  return tracing?.enabled ? traced(incoming, deps, delivery, tracing) : intake(incoming, deps);
}

async function traced(
  incoming: Incoming,
  deps: IntakeDeps,
  delivery: DeliveryKind,
  tracing: Tracing,
): Promise<IntakeOutcome> {
  const span = tracing.startSpan("labops.intake", { kind: "server", parent: null });
  try {
    const outcome = await tracing.withActive(span.ref, () => intake(incoming, deps));
    if (span.recording) {
      const parsed = "parsed" in incoming ? incoming.parsed : undefined;
      const command = parsed?.ok ? parsed.command : undefined;
      span.setAttributes({
        "labops.chat.platform": incoming.origin.address.platform,
        "labops.delivery.kind": delivery,
        "labops.correlation_id": incoming.correlationId,
        "labops.command.kind": command ? command.kind : parsed ? "unreadable" : "confirmation",
        "labops.intake.outcome": outcome.kind,
        // What the job queued here is: the worker's job span (its child) carries the same id.
        "labops.job.id": outcome.kind === "queued" ? outcome.jobId : undefined,
        "labops.lab": command && "lab" in command ? command.lab : undefined,
      });
    }
    return outcome;
  } catch (error) {
    span.recordError(error);
    throw error;
  } finally {
    span.end();
  }
}
