import { verbatim } from "../chat/markup.ts";
import type { Card, CardAction, CardStep, StepState } from "../ports/chat.ts";
import type { LabRecord } from "../ports/registry.ts";
import { shownLabName } from "./names.ts";
import { labNamesOf } from "./naming.ts";
import { formatElapsed, lifetimeText, USUAL_STEP_MS, usualText, withWorldNote } from "./world-time.ts";

/** Platform-neutral cards for the lab workflows; the chat adapters render them. */

export { formatElapsed, formatWhen } from "./world-time.ts";

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
  /** When a running step started (this try's first attempt): the card shows its time ticking. */
  startedAt?: number;
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
  /** LABOPS_TIME_SCALE: when the world is sped up, the card says so and gives Azure's times too. */
  timeScale?: number;
}

/**
 * How to reach a ready lab's pods: the cluster's credentials, then its
 * namespace. A lab on a host is reached through the HOST's cluster, in its
 * own namespace `lab-NAME`; hosts sign users in with Entra ID (Azure RBAC
 * for Kubernetes), so kubectl needs kubelogin there.
 */
export function connectField(record: Pick<LabRecord, "name" | "host">): { label: string; value: string } {
  const names = labNamesOf(record);
  const credentials = `\`az aks get-credentials -g ${names.clusterResourceGroup} -n ${names.cluster}\``;
  const signIn = record.host ? ", `kubelogin convert-kubeconfig -l azurecli`" : "";
  return {
    label: "Connect",
    value: `${credentials}${signIn}, then \`kubectl -n ${names.namespace} get pods\``,
  };
}

export function progressCard(view: ProgressView): Card {
  const done = view.steps.filter((s) => s.state === "done" || s.state === "skipped").length;
  const scale = view.timeScale ?? 1;
  const steps: CardStep[] = view.steps.map((s) => {
    // A running step shows its time so far and what is usual, so a quiet minute does not look stuck.
    const running = s.state === "running" && view.status === "running";
    const durationMs = running && s.startedAt !== undefined ? view.now - s.startedAt : s.durationMs;
    const usual = USUAL_STEP_MS[s.name];
    const detail = s.detail ?? (running && usual ? usualText(usual, scale) : undefined);
    return {
      name: s.name,
      label: s.label,
      state: s.state,
      ...(durationMs !== undefined ? { durationMs } : {}),
      ...(detail ? { detail } : {}),
    };
  });
  const elapsed = formatElapsed(view.now - view.startedAt);
  const lab = shownLabName(view.lab);
  const title =
    view.status === "succeeded"
      ? `${view.noun ?? "Lab"} ${lab} ${view.verb === "create" ? "is ready" : "is destroyed"} (${elapsed})`
      : view.status === "failed"
        ? `${view.noun ?? "Lab"} ${lab}: ${view.verb} failed at ${view.error?.step ?? "a step"}`
        : `${view.noun ?? "Lab"} ${lab}: ${view.verb === "create" ? "creating" : "destroying"} (${elapsed})`;
  const fields: Array<{ label: string; value: string }> = [];
  const r = view.record;
  if (r && view.verb === "create") {
    fields.push({ label: "Owner", value: r.owner.name ?? r.owner.id });
    fields.push({ label: "Expires", value: lifetimeText(r.createdAt, r.expiresAt, scale) });
    if (r.outputs.vaultName) fields.push({ label: "Key Vault", value: r.outputs.vaultName });
    fields.push({ label: "Location", value: r.location });
    if (view.cost) fields.push({ label: "Cost", value: view.cost });
    if (view.status === "succeeded" && view.noun === undefined) fields.push(connectField(r));
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
    text = `*${verbatim(view.error.code)}*: ${verbatim(view.error.message)}${view.error.hint ? `\n_${verbatim(view.error.hint)}_` : ""}`;
  }
  return {
    title,
    status: view.status,
    steps,
    progress: { done, total: view.steps.length },
    ...(text ? { text } : {}),
    ...(fields.length ? { fields } : {}),
    ...(actions.length ? { actions } : {}),
    footer: withWorldNote(`ref ${verbatim(view.correlationId)}`, scale),
  };
}
