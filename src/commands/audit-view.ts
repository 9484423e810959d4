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
