import { verbatim } from "../chat/markup.ts";
import type { AuditEntry } from "../ports/audit.ts";
import { mention } from "./authorize.ts";

/**
 * One audit entry as a line for a card (`lab status` shows a lab's recent
 * ones): when, who, what, the result and why, and the ref to quote.
 */
export function auditLine(entry: AuditEntry): string {
  const when = new Date(entry.at).toISOString().slice(0, 16).replace("T", " ");
  const who = mention({
    platform: entry.platform,
    id: entry.userId,
    ...(entry.userName ? { name: entry.userName } : {}),
  });
  const result = entry.reason ? `${entry.result} (${entry.reason})` : entry.result;
  return `${when} UTC · ${who} · \`${verbatim(entry.command)}\` · ${verbatim(result)} · ref ${verbatim(entry.correlationId)}`;
}

/**
 * A lab's recent commands, one per command: the trail holds several entries
 * for one command (intake's `queued`, the worker's `succeeded`; a destroy's
 * `confirmation_requested`, then `queued` once confirmed), all under its
 * correlation id. Each command is shown once, asked at its first entry, with
 * its latest outcome. `answered` entries (a private form opened) changed
 * nothing and are left out: the form's submission is its own command.
 * `entries` are newest first, as AuditLog.recent returns them.
 */
export function recentCommands(entries: readonly AuditEntry[], limit: number): AuditEntry[] {
  const byCommand = new Map<string, { latest: AuditEntry; first: AuditEntry }>();
  for (const entry of entries) {
    if (entry.result === "answered") continue;
    const seen = byCommand.get(entry.correlationId);
    if (seen) seen.first = entry;
    else byCommand.set(entry.correlationId, { latest: entry, first: entry });
  }
  return [...byCommand.values()]
    .slice(0, limit)
    .map(({ latest, first }) => ({ ...latest, at: first.at, command: first.command }));
}
