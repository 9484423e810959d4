import { verbatim } from "../chat/markup.ts";
import type { Card } from "../ports/chat.ts";
import type { LabRecord } from "../ports/registry.ts";
import { type ProgressView, progressCard, type StepView } from "./cards.ts";
import { CREATE_STEPS } from "./create-plan.ts";
import { labArg, shownLabName } from "./names.ts";
import { hostedLabNamespace } from "./naming.ts";
import { formatWhen, withWorldNote, worldNote } from "./world-time.ts";

/**
 * A lab's create card redrawn from its record, so the card at the top of its
 * thread never goes stale: `lab extend` redraws it with the new expiry, a
 * destroy turns it into "being destroyed", then "destroyed", without buttons
 * (a press on a button of an older copy is answered by intake: there is no
 * such lab any more).
 */

export interface LabCardContext {
  tenantId?: string;
  timeScale: number;
  /** The lab's hourly estimate, as the create card showed it. */
  cost?: string;
}

/** The create card of a ready, failed or still-creating lab, as its record says now. */
export function labCardFromRecord(record: LabRecord, now: number, ctx: LabCardContext): Card {
  const finished = Object.values(record.steps ?? {}).map((s) => s.finishedAt);
  const status: ProgressView["status"] =
    record.state === "ready" ? "succeeded" : record.state === "failed" ? "failed" : "running";
  const failedStep = record.state === "failed" ? record.lastError?.step : undefined;
  const steps: StepView[] = CREATE_STEPS.map((s) => {
    const done = record.steps?.[s.name];
    if (done) return { name: s.name, label: s.label, state: "done", durationMs: done.durationMs };
    if (s.name === failedStep)
      return { name: s.name, label: s.label, state: "failed", detail: record.lastError?.code ?? "" };
    return { name: s.name, label: s.label, state: "pending" };
  });
  return progressCard({
    lab: record.name,
    verb: "create",
    status,
    steps,
    correlationId: record.correlationId ?? "",
    startedAt: record.createdAt,
    // A finished card's title gives the time it took, not the time since.
    now: status === "running" || finished.length === 0 ? now : Math.max(...finished),
    record,
    timeScale: ctx.timeScale,
    ...(ctx.tenantId ? { tenantId: ctx.tenantId } : {}),
    ...(ctx.cost ? { cost: ctx.cost } : {}),
    ...(record.lastError && record.state === "failed"
      ? {
          error: {
            step: record.lastError.step,
            code: record.lastError.code,
            message: record.lastError.message,
          },
        }
      : {}),
  });
}

export interface DestroyFacts {
  /** Who asked (a name, or "labops (expiry)"). */
  by: string;
  /**
   * The ref of the command that created the lab (LabRecord.correlationId): the
   * card stays that command's, so its footer keeps that ref; the destroy's
   * own card, in its own thread, carries the destroy's.
   */
  labRef?: string;
  timeScale: number;
  /** The host cluster the lab lived on (its record's `host`); absent for a dedicated lab. */
  host?: string;
}

/**
 * What destroying a lab removes, as its cards and replies say it: a dedicated
 * lab's resource group holds its cluster; a lab on a host loses its
 * namespace there, and the host stays.
 */
export function destroyedWhat(lab: string, host: string | undefined): string {
  return host === undefined
    ? "its resource group is deleted and its vault purged"
    : `its namespace \`${hostedLabNamespace(lab)}\` on host \`${host}\` and its resource group are deleted and its vault purged; the host and the other labs on it stay`;
}

/** The create card's small print: its own ref and, when the world is sped up, the note. */
function footer(facts: DestroyFacts): { footer?: string } {
  const text = facts.labRef
    ? withWorldNote(`ref ${verbatim(facts.labRef)}`, facts.timeScale)
    : worldNote(facts.timeScale);
  return text ? { footer: text } : {};
}

/** The create card while its lab is being destroyed: no buttons, and where to follow it. */
export function destroyingLabCard(lab: string, facts: DestroyFacts): Card {
  return {
    title: `Lab ${shownLabName(lab)}: being destroyed`,
    status: "running",
    text: `Destroy asked by ${verbatim(facts.by)}; its progress is in its own thread. The lab's buttons are gone.`,
    ...footer(facts),
  };
}

/** The create card once the destroy stopped at a step: no buttons; saying the destroy again resumes it. */
export function destroyStoppedLabCard(
  lab: string,
  facts: DestroyFacts & { step: string; code: string },
): Card {
  return {
    title: `Lab ${shownLabName(lab)}: destroy stopped at ${facts.step}`,
    status: "failed",
    text: `The destroy asked by ${verbatim(facts.by)} stopped with \`${verbatim(facts.code)}\`. Say \`lab destroy ${labArg(lab)}\` again to resume it.`,
    ...footer(facts),
  };
}

/** The create card once its lab is gone: what happened, when, and how to start again. */
export function destroyedLabCard(lab: string, at: number, facts: DestroyFacts): Card {
  return {
    // Not "is destroyed": that is the title of the destroy's own card, in its own thread.
    title: `Lab ${shownLabName(lab)}: destroyed`,
    status: "cancelled",
    text: `Destroyed ${formatWhen(at)}, asked by ${verbatim(facts.by)}: ${destroyedWhat(lab, facts.host)}. Say \`lab create ${verbatim(shownLabName(lab))}\` for a new one.`,
    ...footer(facts),
  };
}
