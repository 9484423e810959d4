import { verbatim } from "../chat/markup.ts";
import { formatElapsed, formatWhen } from "../labs/cards.ts";
import type { Card } from "../ports/chat.ts";
import type { RestartReport } from "../ports/watcher.ts";
import type { StuckReport } from "./stuck.ts";
import { HOPS, type Hop, type TraceState } from "./trace.ts";

/**
 * What the watcher says, as platform-neutral cards. Versions, pod names,
 * times and who changed what: never a value (the rotate card's fingerprint,
 * which the command itself showed, is kept as it was).
 */

const HOP_MEANS: Record<Hop, string> = {
  synced: "the CSI driver writes the new version into the synced Secret",
  reloaded: "Reloader rolls the deployment",
  rollout: "a new ReplicaSet starts",
  ready: "every new pod is Ready",
  mounted: "every pod mounts the version",
};

export interface TraceContext {
  lab: string;
  /** Display name of who asked through labops (from the rotate thread), if known. */
  byName?: string;
}

export function shortVersion(version: string): string {
  return version.slice(0, 8);
}

/** Elapsed time for hops: tenths under ten seconds (emulated worlds are fast), else as cards show it. */
export function formatHopTime(ms: number): string {
  if (ms < 9_950) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  return formatElapsed(ms);
}

/** "color: 3f2a1b0c reached 2/2 pods in 1m12s (synced +41s, rollout +42s, ready +1m10s)". */
export function completionSummary(state: TraceState): string {
  const at = (hop: Hop) => {
    const t = state.hops[hop];
    return t === undefined ? "?" : `+${formatHopTime(t - state.setAt)}`;
  };
  const took = state.completedAt === undefined ? "?" : formatHopTime(state.completedAt - state.setAt);
  const head = `${state.secret}: ${shortVersion(state.version)}`;
  if (state.mode === "unused") return `${head} is not mounted by any pod: nothing to roll`;
  const count = state.reached?.pods.length ?? Object.keys(state.newPods).length;
  const desired = state.reached?.desired ?? count;
  if (state.mode === "in-place" || state.sameValue) {
    const why = state.sameValue ? "same value, no restart" : "mounted in place, no restart";
    return `${head} reached ${count}/${desired} pods in ${took} (${why})`;
  }
  return `${head} reached ${count}/${desired} pods in ${took} (synced ${at("synced")}, rollout ${at("rollout")}, ready ${at("ready")})`;
}

/** Every hop with its time since the write, for the card. */
export function hopLine(state: TraceState): string {
  const labels: Record<Hop, string> = {
    synced: "synced",
    reloaded: "reloaded",
    rollout: "rollout",
    ready: "ready",
    mounted: "mounted",
  };
  return HOPS.filter((h) => state.hops[h] !== undefined)
    .map((h) => `${labels[h]} +${formatHopTime((state.hops[h] ?? 0) - state.setAt)}`)
    .join(" · ");
}

export function changedByText(state: TraceState, name?: string): string {
  if (!state.changedBy) return "changed outside labops";
  return `changed by ${verbatim(name ?? state.changedBy)} through labops`;
}

function podList(names: readonly string[], max = 6): string {
  if (names.length === 0) return "none";
  const shown = names.slice(0, max).map((n) => `\`${n}\``);
  return names.length > max ? `${shown.join(", ")} and ${names.length - max} more` : shown.join(", ");
}

function traceFields(trace: TraceState, ctx: TraceContext): Array<{ label: string; value: string }> {
  const fields = [
    {
      label: "Version",
      value: `${shortVersion(trace.version)}${trace.previousVersion ? ` (was ${shortVersion(trace.previousVersion)})` : ""}`,
    },
    {
      label: "Changed by",
      value: trace.changedBy ? `${ctx.byName ?? trace.changedBy}, through labops` : "someone outside labops",
    },
  ];
  const hops = hopLine(trace);
  if (hops) fields.push({ label: "Hops", value: hops });
  fields.push(...driverField(trace));
  if (trace.mode !== "unused") {
    fields.push({ label: "Old pods", value: podList(trace.podsBefore) });
    const fresh = trace.reached?.pods ?? Object.keys(trace.newPods).sort();
    if (trace.mode === "rollout" && !trace.sameValue)
      fields.push({ label: "New pods", value: podList(fresh) });
  }
  return fields;
}

/** The CSI driver's rotation as the trace saw it (a card field), if it saw one. */
export function driverField(trace: TraceState): Array<{ label: string; value: string }> {
  if (trace.driver === "reconciler")
    return [{ label: "CSI driver", value: "rotation reconciler (v1.5 or older)" }];
  if (trace.driver === "republish")
    return [
      {
        label: "CSI driver",
        value: "rotation on the kubelet's republish (v1.6 or newer, no rotation events)",
      },
    ];
  return [];
}

function footer(trace: TraceState): string {
  const driver =
    trace.driverEvents && trace.driverEvents > 0
      ? ` · CSI driver: SecretRotationComplete ×${trace.driverEvents} (folded)`
      : "";
  const ref = trace.correlationId
    ? `ref ${verbatim(trace.correlationId)}`
    : `trace ${verbatim(trace.lab)}/${verbatim(trace.secret)}/${shortVersion(trace.version)}`;
  return `${ref}${driver}`;
}

/** The completion text: the one line, then who changed it. */
export function completionText(trace: TraceState, ctx: TraceContext): string {
  const restarted = Object.entries(trace.newPods).filter(([, p]) => p.restarts > 0);
  const note =
    restarted.length > 0
      ? `\nNew pods that restarted on the way: ${restarted.map(([n, p]) => `${n} (${p.restarts}×)`).join(", ")}.`
      : "";
  return `${completionSummary(trace)}.\n${capital(changedByText(trace, ctx.byName))}.${note}`;
}

/** The alert thread for a rotation labops did not make (or whose command thread is unknown). */
export function completionCard(trace: TraceState, ctx: TraceContext): Card {
  return {
    title: `Rotation traced: ${trace.secret} in ${ctx.lab}`,
    status: "succeeded",
    text: completionText(trace, ctx),
    fields: traceFields(trace, ctx),
    footer: footer(trace),
  };
}

/** The rotate command's own card, finished: its title and fields kept, the outcome added. */
export function finishedCommandCard(base: Card, trace: TraceState, ctx: TraceContext): Card {
  const extra = traceFields(trace, ctx).filter(
    (f) => f.label !== "Version" && !(base.fields ?? []).some((b) => b.label === f.label),
  );
  return {
    ...base,
    status: "succeeded",
    text: completionText(trace, ctx),
    fields: [...(base.fields ?? []), ...extra],
  };
}

export function stuckText(trace: TraceState, report: StuckReport, now: number): string {
  return `${trace.secret}: ${shortVersion(trace.version)} is stuck at ${report.hop} (${HOP_MEANS[report.hop]}) ${formatHopTime(now - trace.setAt)} after the write. Likely cause: ${report.cause}.`;
}

export function stuckCard(trace: TraceState, report: StuckReport, ctx: TraceContext, now: number): Card {
  return {
    title: `Rotation stuck: ${trace.secret} in ${ctx.lab}`,
    status: "warning",
    text: `${stuckText(trace, report, now)}\n${capital(changedByText(trace, ctx.byName))}. labops keeps following it and says so here when it completes.`,
    fields: traceFields(trace, ctx),
    footer: footer(trace),
  };
}

/** The rotate command's card while it is stuck. */
export function stuckCommandCard(base: Card, trace: TraceState, report: StuckReport, now: number): Card {
  const driver = driverField(trace).filter((f) => !(base.fields ?? []).some((b) => b.label === f.label));
  return {
    ...base,
    status: "warning",
    text: stuckText(trace, report, now),
    fields: [...(base.fields ?? []), ...driver],
  };
}

export function supersededText(trace: TraceState, by: string): string {
  return `A newer version (${shortVersion(by)}) replaced ${shortVersion(trace.version)} before it reached every pod; labops follows the newer one.`;
}

export function givenUpText(trace: TraceState, now: number): string {
  return `No longer following ${trace.secret} ${shortVersion(trace.version)}: still not on every pod ${formatElapsed(now - trace.setAt)} after the write. \`lab status\` shows each pod's mounted versions.`;
}

export function restartCard(report: RestartReport, ctx: { lab: string; windowMs: number }): Card {
  const entries = Object.entries(report.pods).sort(([a], [b]) => a.localeCompare(b));
  const total = entries.reduce((n, [, p]) => n + p.restarts, 0);
  const replaced = entries.filter(([, p]) => p.replaced).length;
  const parts: string[] = [];
  if (total > 0) parts.push(`${total} restart${total === 1 ? "" : "s"}`);
  if (replaced > 0) parts.push(`${replaced} pod${replaced === 1 ? "" : "s"} evicted or deleted`);
  return {
    title: `Restarts with no vault change: ${ctx.lab}`,
    status: "warning",
    text: `${capital(parts.join(" and "))} in the lab's workload since ${formatWhen(report.openedAt)}, with no new secret version behind them (not a rotation).`,
    fields: entries.slice(0, 10).map(([name, p]) => ({
      label: name,
      value: [
        p.restarts > 0 ? `${p.restarts} restart${p.restarts === 1 ? "" : "s"}` : undefined,
        p.reason ?? (p.replaced ? "evicted or deleted" : undefined),
      ]
        .filter((x) => x !== undefined)
        .join(" · "),
    })),
    footer: `At most one report per ${formatElapsed(ctx.windowMs)}; later restarts update this card.`,
  };
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
