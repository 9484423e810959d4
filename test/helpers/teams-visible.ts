import type { TeamsMessage } from "../../emulators/teams/emulator.ts";
import type { VisibleMessage } from "../contract/chat-port.contract.ts";

/** A Teams message as its reader sees it: the text, then every TextBlock, fact and action of its cards. */
export function teamsVisible(m: TeamsMessage): VisibleMessage {
  const texts: string[] = m.text ? [m.text] : [];
  const buttons: VisibleMessage["buttons"] = [];
  const links: VisibleMessage["links"] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    if (typeof node !== "object" || node === null) return;
    const o = node as Record<string, unknown>;
    if (o.type === "TextBlock" && typeof o.text === "string") texts.push(o.text);
    if (o.type === "FactSet" && Array.isArray(o.facts)) {
      for (const f of o.facts as Array<{ title: string; value: string }>) texts.push(`${f.title} ${f.value}`);
    }
    if (o.type === "Action.Execute") {
      const data = (o.data ?? {}) as { value?: unknown };
      buttons.push({
        id: String(o.verb),
        label: String(o.title ?? ""),
        ...(typeof data.value === "string" ? { value: data.value } : {}),
      });
      return;
    }
    if (o.type === "Action.OpenUrl") {
      links.push({ label: String(o.title ?? ""), url: String(o.url) });
      return;
    }
    for (const [k, v] of Object.entries(o)) if (k !== "data") walk(v);
  };
  for (const a of m.attachments) walk(a.content);
  return { text: texts.join("\n"), buttons, links };
}

/** Teams' visible status icons, back to the card status they stand for. */
export function teamsStatus(m: TeamsMessage): string | undefined {
  const first = teamsVisible(m).text;
  for (const [icon, status] of [
    ["✅", "succeeded"],
    ["❌", "failed"],
    ["🔄", "running"],
    ["⏳", "queued"],
    ["⚠️", "warning"],
    ["ℹ️", "info"],
    ["🚫", "cancelled"],
  ] as const) {
    if (first.startsWith(icon)) return status;
  }
  return undefined;
}
