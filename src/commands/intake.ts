import { confirmationCard } from "../chat/cards.ts";
import { verbatim } from "../chat/markup.ts";
import type { Clock } from "../clock.ts";
import { errorCode } from "../errors.ts";
import { isLabRef } from "../labs/names.ts";
import { deferredChild, type LineLogger, type Logger } from "../log.ts";
import type { AuditLog, AuditResult } from "../ports/audit.ts";
import type { Card, ConfirmationPrompt } from "../ports/chat.ts";
import type { ConfirmationStore } from "../ports/confirmations.ts";
import type { DeliveryLog } from "../ports/deliveries.ts";
import type { Metrics } from "../ports/metrics.ts";
import type { CommandOrigin, CommandQueue } from "../ports/queue.ts";
import type { LabRecord, LabRegistry } from "../ports/registry.ts";
import type { Tracing } from "../ports/tracing.ts";
import { auditEntry, labOf } from "./audit-entry.ts";
import {
  authorize,
  commandLab,
  noLabText,
  resolveConversationLab,
  resolveLabRef,
  sameConversation,
  unknownSecret,
  valueInPublic,
} from "./authorize.ts";
import type { CapsDeps } from "./caps.ts";
import { admitAt, type CapsAhead, cancelAhead, capsAhead } from "./caps-ahead.ts";
import { CONFIRMATION_TTL_MS, confirmationPrompt, pendingDestroy } from "./confirmation.ts";
import { describeCommand } from "./describe.ts";
import { helpText } from "./help.ts";
import { forPlatform } from "./hints.ts";
import {
  authorizeHost,
  destroyAsked,
  destroyCancelled,
  destroyExpired,
  isHostCommand,
} from "./host-intake.ts";
import { enqueue } from "./intake-enqueue.ts";
import { isMemberCommand, memberChange } from "./member-intake.ts";
import type { Command, ParseResult } from "./types.ts";

/**
 * The one path every chat adapter sends a command through: the parse result
 * (or a press of Confirm/Cancel) in, the quick answer out (shown only to the
 * sender), and at most one job queued. Here, before any job exists, a
 * delivery is counted once, the lab is resolved from the conversation, the
 * sender's right to act is checked, a destroy waits for its confirmation, and
 * every outcome is audited. Adapters translate; this decides.
 */

interface IncomingBase {
  deliveryId: string;
  correlationId: string;
  origin: CommandOrigin;
  receivedAt: number;
  /** Typed where the conversation sees it (a Slack @mention, a Teams channel or group chat message). */
  public?: boolean;
}

/** A command as typed (or rebuilt from a button, a modal). */
export interface IncomingCommand extends IncomingBase {
  parsed: ParseResult;
}

/** A press of a confirmation prompt's Confirm or Cancel button. */
export interface IncomingAnswer extends IncomingBase {
  answer: { confirmationId: string; confirm: boolean };
}

export type Incoming = IncomingCommand | IncomingAnswer;

export type IntakeOutcome =
  | { kind: "rejected"; text: string }
  | { kind: "help"; text: string }
  | { kind: "needs_value"; text: string; command: Extract<Command, { kind: "secret.rotate" }> }
  | { kind: "confirm"; text: string; prompt: ConfirmationPrompt; card: Card }
  | { kind: "refused"; text: string; reason: string }
  | { kind: "cancelled"; text: string }
  | { kind: "queued"; text: string; jobId: string }
  | { kind: "duplicate"; text: string }
  | { kind: "unavailable"; text: string };

export interface IntakeDeps {
  queue: CommandQueue;
  logger: Logger;
  registry: Pick<LabRegistry, "get" | "list">;
  confirmations: ConfirmationStore;
  audit: AuditLog;
  deliveries: DeliveryLog;
  /** LABOPS_ADMINS: `slack:U…`, `teams:<aad object id>`. */
  admins: readonly string[];
  /** Intake's time: when a delivery was audited, a confirmation asked for and checked. */
  clock: Pick<Clock, "now">;
  confirmationTtlMs?: number;
  /** commandReceived(platform, kind, outcome) for every delivery. */
  metrics?: Metrics;
  /** Where a command's trace starts (tracedIntake, intake-trace.ts); NO_TRACING when absent. */
  tracing?: Tracing;
  /** The caps on labs, commands and lifetimes (src/commands/caps.ts); the web role always sets them. */
  caps?: CapsDeps;
  members?: Pick<LabRegistry, "update">; // `lab grant`/`lab revoke` write here (member-intake.ts)
}

/** Longer than any platform retries a delivery (Slack: minutes; Teams: seconds). */
const DELIVERY_MEMORY_MS = 24 * 3_600_000;

export interface Decided {
  outcome: IntakeOutcome;
  audit: { result: AuditResult; command: string; kind?: Command["kind"]; lab?: string; reason?: string };
  /** The correlation id of the story this belongs to (a confirmation's, when answering one). */
  correlationId?: string;
  /** The queue recorded the audit entry with the job (intake-enqueue.ts): intake records nothing more. */
  audited?: boolean;
}

export async function intake(incoming: Incoming, deps: IntakeDeps): Promise<IntakeOutcome> {
  const { origin, correlationId } = incoming;
  const log = deferredChild(deps.logger, {
    correlationId,
    platform: origin.address.platform,
    channel: origin.address.channel,
    user: origin.user.id,
  });

  // The registry read the command will need and its caps (caps-ahead.ts) are asked for with the
  // claim: one round trip, not three.
  const registry = prefetched(incoming, deps.registry);
  const claimed = deps.deliveries.claim(incoming.deliveryId, DELIVERY_MEMORY_MS);
  const ahead =
    "parsed" in incoming && deps.caps
      ? capsAhead(incoming.parsed, origin, correlationId, deps.clock.now(), deps.admins, deps.caps)
      : undefined;
  let first: boolean;
  try {
    first = await claimed;
  } catch (error) {
    log.error({ code: errorCode(error) }, "command.intake_unavailable");
    // The claim's answer is lost, not always the claim (a timeout): forgotten, with what the caps
    // admitted ahead, so the platform's retry is served and counted once. Nothing was queued.
    await Promise.all([
      deps.deliveries.release(incoming.deliveryId).catch(() => undefined),
      cancelAhead(ahead, deps.caps).catch(() => undefined),
    ]);
    return unavailable(correlationId);
  }
  if (!first) {
    await cancelAhead(ahead, deps.caps).catch(() => undefined);
    deps.metrics?.commandReceived(origin.address.platform, "unknown", "duplicate");
    log.info({ deliveryId: incoming.deliveryId }, "command.duplicate");
    return {
      kind: "duplicate",
      text: "That was already received; nothing was done twice. Its answer or thread is above.",
    };
  }

  let decided: Decided;
  try {
    decided =
      "answer" in incoming
        ? await answer(incoming, deps, log)
        : await command(incoming, { ...deps, registry }, log, ahead);
  } catch (error) {
    // Nothing was queued: forget the delivery so the platform's retry (or the user's) is served.
    await deps.deliveries.release(incoming.deliveryId).catch(() => undefined);
    log.error({ code: errorCode(error) }, "command.intake_failed");
    decided = {
      outcome: unavailable(correlationId),
      audit: { result: "unavailable", command: "(unknown)", reason: errorCode(error) },
    };
  }

  // Caps asked ahead for a command refused before its caps step are undone with the audit's write.
  const undone = cancelAhead(ahead, deps.caps).catch((error: unknown) => {
    log.error({ code: errorCode(error) }, "caps.cancel_failed");
  });
  if (!decided.audited) {
    const entry = auditEntry(
      deps.clock.now(),
      { correlationId: decided.correlationId ?? correlationId, deliveryId: incoming.deliveryId, origin },
      { ...decided.audit, ...(decided.outcome.kind === "queued" ? { jobId: decided.outcome.jobId } : {}) },
    );
    await deps.audit.record(entry).catch((error: unknown) => {
      log.error({ code: errorCode(error), result: entry.result }, "audit.write_failed");
    });
  }
  await undone;
  const kind = decided.audit.kind ?? "unknown";
  deps.metrics?.commandReceived(origin.address.platform, kind, decided.outcome.kind);
  return forPlatform(decided.outcome, origin.address.platform);
}

/**
 * The registry as `command` will read it, with that read already under way:
 * the named lab, or the list a command without one is resolved from (and the
 * lab it resolves to is then served from that same list). A read nobody
 * awaits (a duplicate, a refusal) fails silently.
 */
function prefetched(incoming: Incoming, registry: IntakeDeps["registry"]): IntakeDeps["registry"] {
  if (!("parsed" in incoming) || !incoming.parsed.ok || !("lab" in incoming.parsed.command)) return registry;
  const named = commandLab(incoming.parsed.command);
  if (named !== undefined) {
    const record = registry.get(named);
    record.catch(() => undefined);
    return { get: (name) => (name === named ? record : registry.get(name)), list: () => registry.list() };
  }
  const all = registry.list();
  all.catch(() => undefined);
  return {
    get: async (name) => (await all).find((r) => r.name === name) ?? registry.get(name),
    list: () => all,
  };
}

function unavailable(correlationId: string): IntakeOutcome {
  return {
    kind: "unavailable",
    text: `labops cannot take commands right now (its store is unreachable). Nothing was changed; try again in a minute (ref ${correlationId}).`,
  };
}

async function command(
  incoming: IncomingCommand,
  deps: IntakeDeps,
  log: LineLogger,
  ahead: CapsAhead | undefined,
): Promise<Decided> {
  const { parsed, origin } = incoming;
  if (!parsed.ok) {
    // The rejected text is not logged or audited: it may hold a value typed in the wrong place.
    log.info("command.rejected");
    return {
      outcome: { kind: "rejected", text: parsed.rejection.message },
      audit: { result: "rejected", command: "(unreadable)" },
    };
  }
  let cmd = parsed.command;
  const exposed = incoming.public ? valueInPublic(cmd) : { ok: true as const };
  if (!exposed.ok) return refused(cmd, exposed, log);
  let asked: Command | undefined;
  if (cmd.kind === "help") {
    return {
      outcome: { kind: "help", text: helpText(cmd.topic, origin.address.platform) },
      audit: { result: "answered", command: describeCommand(cmd), kind: cmd.kind },
    };
  }

  if (isHostCommand(cmd)) {
    const decision = authorizeHost(cmd, origin.user, deps.admins);
    if (!decision.ok) return refused(cmd, decision, log);
  }

  const byRef = resolveLabRef(
    cmd,
    origin.user,
    deps.admins,
    isLabRef(commandLab(cmd) ?? "") ? await deps.registry.list() : [],
  );
  if (!byRef.ok) return refused(cmd, byRef, log);
  cmd = byRef.command;
  const needsLabs = commandLab(cmd) === undefined && "lab" in cmd;
  if (needsLabs) {
    const resolved = resolveConversationLab(cmd, origin.address, await deps.registry.list());
    if (!resolved.ok) return refused(cmd, resolved, log);
    cmd = resolved.command;
  }
  const lab = commandLab(cmd);
  let record: LabRecord | undefined;
  if (lab !== undefined) {
    record = await deps.registry.get(lab);
    const decision = authorize(cmd, origin.user, origin.address, record, deps.admins);
    // Creating a lab that already stands here, ready, answers with its status instead of redoing it.
    if (!decision.ok && decision.reason === "lab_exists" && record?.state === "ready") {
      asked = cmd;
      cmd = { kind: "lab.status", lab };
    } else if (!decision.ok && decision.reason === "no_lab") {
      // No confirmation, no job: the answer names the labs there are here.
      const text = noLabText(lab, origin.address, await deps.registry.list());
      return refused(cmd, { reason: decision.reason, text }, log);
    } else if (!decision.ok) {
      return refused(cmd, decision, log);
    }
    const secret = unknownSecret(cmd, record);
    if (!secret.ok) return refused(cmd, secret, log);
  }
  if (cmd.kind === "secret.rotate" && cmd.value === undefined) {
    return {
      outcome: {
        kind: "needs_value",
        command: cmd,
        text: `Type the new value of \`${verbatim(cmd.secret)}\` in the form that opened; it never appears in the channel.`,
      },
      audit: { result: "answered", command: describeCommand(cmd), kind: cmd.kind, ...labOf(cmd) },
    };
  }

  // ── Caps (issue 14): checked and counted in one atomic step before anything is queued. ──
  let releaseCaps = async (): Promise<void> => undefined;
  let capsNote: string | undefined;
  if (deps.caps) {
    const token = incoming.correlationId;
    const capped = await admitAt(ahead, cmd, origin, token, record, deps.clock.now(), deps.admins, deps.caps);
    if (!capped.ok) return refused(cmd, capped, log);
    releaseCaps = capped.release;
    capsNote = capped.note;
  }
  // ── end of caps ──
  // Answered here, counted like every command a person sends.
  if (isMemberCommand(cmd)) return memberChange(cmd, incoming, deps, log);

  if (
    (cmd.kind === "lab.destroy" || cmd.kind === "host.destroy" || cmd.kind === "workshop.destroy") &&
    !cmd.confirmed
  ) {
    const now = deps.clock.now();
    const pending = pendingDestroy({
      command: cmd,
      user: origin.user,
      address: origin.address,
      correlationId: incoming.correlationId,
      now,
      ttlMs: deps.confirmationTtlMs ?? CONFIRMATION_TTL_MS,
    });
    await deps.confirmations.create(pending);
    const prompt = confirmationPrompt(pending, record?.host);
    log.info({ command: describeCommand(cmd) }, "command.confirmation_requested");
    return {
      outcome: {
        kind: "confirm",
        prompt,
        card: confirmationCard(prompt, now),
        text: destroyAsked(cmd, prompt.confirmLabel),
      },
      audit: {
        result: "confirmation_requested",
        command: describeCommand(cmd),
        kind: cmd.kind,
        ...labOf(cmd),
      },
    };
  }

  const queued = await enqueue(incoming, cmd, incoming.correlationId, deps, log, asked);
  // A create not queued after all lets go of the name it held (caps).
  if (queued.outcome.kind !== "queued") await releaseCaps().catch(() => undefined);
  else if (capsNote) queued.outcome.text = `${queued.outcome.text} ${capsNote}`;
  return queued;
}

async function answer(incoming: IncomingAnswer, deps: IntakeDeps, log: LineLogger): Promise<Decided> {
  const { origin } = incoming;
  const { confirmationId, confirm } = incoming.answer;
  const what = confirm ? "confirm" : "cancel";
  const taken = await deps.confirmations.consume(confirmationId, origin.user);
  if (!taken.ok) {
    const text =
      taken.reason === "other_user"
        ? `Only the person who asked for this destroy can ${what} it.`
        : `This confirmation was already answered or has expired. To destroy the lab, run \`lab destroy NAME\` again.`;
    log.info({ reason: taken.reason }, "command.confirmation_refused");
    return {
      outcome: { kind: "refused", text, reason: `confirmation_${taken.reason}` },
      audit: {
        result: "refused",
        command: `(${what} ${confirmationId.slice(0, 6)}…)`,
        reason: `confirmation_${taken.reason}`,
      },
    };
  }
  const pending = taken.confirmation;
  const cmd = pending.command;
  const base = { command: describeCommand(cmd), kind: cmd.kind, ...labOf(cmd) } as const;
  const now = deps.clock.now();
  const refuse = (reason: string, text: string): Decided => {
    log.info({ reason }, "command.confirmation_refused");
    return {
      outcome: { kind: "refused", text, reason },
      audit: { result: "refused", ...base, reason },
      correlationId: pending.correlationId,
    };
  };
  if (!sameConversation(pending.address, origin.address)) {
    return refuse(
      "confirmation_wrong_conversation",
      "Answer this confirmation in the conversation where it was asked.",
    );
  }
  if (pending.expiresAt <= now) {
    return refuse("confirmation_expired", destroyExpired(cmd));
  }
  if (!confirm) {
    log.info({ command: base.command }, "command.cancelled");
    return {
      outcome: {
        kind: "cancelled",
        text: destroyCancelled(cmd),
      },
      audit: { result: "cancelled", ...base },
      correlationId: pending.correlationId,
    };
  }
  // The lab may have changed hands or gone in the minutes since the question.
  const decision =
    cmd.kind === "host.destroy" || cmd.kind === "workshop.destroy"
      ? authorizeHost(cmd, origin.user, deps.admins)
      : authorize(cmd, origin.user, origin.address, await deps.registry.get(cmd.lab), deps.admins);
  if (!decision.ok) return refuse(decision.reason, decision.text);
  return enqueue(incoming, cmd, pending.correlationId, deps, log);
}

export function refused(cmd: Command, why: { reason: string; text: string }, log: LineLogger): Decided {
  log.info({ command: describeCommand(cmd), reason: why.reason }, "command.refused");
  return {
    outcome: { kind: "refused", text: why.text, reason: why.reason },
    audit: {
      result: "refused",
      command: describeCommand(cmd),
      kind: cmd.kind,
      reason: why.reason,
      ...labOf(cmd),
    },
  };
}
