import type { Card, CardAction, CardStep, StepState } from "../ports/chat.ts";
import type { LabRecord } from "../ports/registry.ts";

/** Platform-neutral cards for the lab workflows; the chat adapters render them. */

export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

export function formatWhen(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** Azure portal deep link for a resource id. */
export function portalUrl(tenantId: string, resourceId: string): string {
  return `https://portal.azure.com/#@${tenantId}/resource${resourceId}`;
}

export interface StepView {
  name: string;
  label: string;
  state: StepState;
  durationMs?: number;
  detail?: string;
}

export interface ProgressView {
  lab: string;
  /** What the card is about: "Lab" unless said (a host's card says "Host"). */
  noun?: string;
  verb: "create" | "destroy";
  status: Card["status"];
  steps: StepView[];
  correlationId: string;
  startedAt: number;
  now: number;
  record?: LabRecord;
  tenantId?: string;
  error?: { step: string; code: string; message: string; hint?: string };
  /** The lab's hourly estimate ("≈ $0.17/h · about $0.34 so far"). */
  cost?: string;
}

export function progressCard(view: ProgressView): Card {
  const done = view.steps.filter((s) => s.state === "done" || s.state === "skipped").length;
  const steps: CardStep[] = view.steps.map((s) => ({
    name: s.name,
    label: s.label,
    state: s.state,
    ...(s.durationMs !== undefined ? { durationMs: s.durationMs } : {}),
    ...(s.detail ? { detail: s.detail } : {}),
  }));
  const elapsed = formatElapsed(view.now - view.startedAt);
  const title =
    view.status === "succeeded"
      ? `${view.noun ?? "Lab"} ${view.lab} ${view.verb === "create" ? "is ready" : "is destroyed"} (${elapsed})`
      : view.status === "failed"
        ? `${view.noun ?? "Lab"} ${view.lab}: ${view.verb} failed at ${view.error?.step ?? "a step"}`
        : `${view.noun ?? "Lab"} ${view.lab}: ${view.verb === "create" ? "creating" : "destroying"} (${elapsed})`;
  const fields: Array<{ label: string; value: string }> = [];
  const r = view.record;
  if (r && view.verb === "create") {
    fields.push({ label: "Owner", value: r.owner.name ?? r.owner.id });
    fields.push({ label: "Expires", value: formatWhen(r.expiresAt) });
    if (r.outputs.vaultName) fields.push({ label: "Key Vault", value: r.outputs.vaultName });
    fields.push({ label: "Location", value: r.location });
    if (view.cost) fields.push({ label: "Cost", value: view.cost });
  }
  const actions: CardAction[] = [];
  // A host's card has no buttons: retrying or extending a host is a command an admin types.
  if (view.status === "failed" && view.verb === "create" && view.noun === undefined) {
    actions.push({ kind: "button", id: "lab.retry", label: "Retry", value: view.lab, style: "primary" });
  }
  if (view.status === "succeeded" && view.verb === "create" && r) {
    actions.push({ kind: "button", id: "lab.extend", label: "Extend 4h", value: view.lab });
    const rgId = r.outputs.resourceGroupId;
    if (rgId && view.tenantId)
      actions.push({ kind: "link", label: "Open in Azure portal", url: portalUrl(view.tenantId, rgId) });
  }
  let text: string | undefined;
  if (view.error) {
    text = `*${view.error.code}*: ${view.error.message}${view.error.hint ? `\n_${view.error.hint}_` : ""}`;
  }
  return {
    title,
    status: view.status,
    steps,
    progress: { done, total: view.steps.length },
    ...(text ? { text } : {}),
    ...(fields.length ? { fields } : {}),
    ...(actions.length ? { actions } : {}),
    footer: `ref ${view.correlationId}`,
  };
}
