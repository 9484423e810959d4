import type { SlackMessage } from "../../emulators/slack/emulator.ts";
import type { VisibleMessage } from "../contract/chat-port.contract.ts";

/** A Slack message as its reader sees it: the blocks' text when there are blocks, else the text. */
export function slackVisible(m: SlackMessage): VisibleMessage {
  const texts: string[] = [];
  const buttons: VisibleMessage["buttons"] = [];
  const links: VisibleMessage["links"] = [];
  const blocks = (m.blocks ?? []) as Array<Record<string, unknown>>;
  if (blocks.length === 0) texts.push(m.text);
  const t = (v: unknown) =>
    typeof v === "object" && v !== null ? String((v as { text?: unknown }).text ?? "") : "";
  for (const b of blocks) {
    if (b.text) texts.push(t(b.text));
    if (Array.isArray(b.fields)) texts.push(...b.fields.map(t));
    if (Array.isArray(b.elements)) {
      for (const el of b.elements as Array<Record<string, unknown>>) {
        if (el.type === "button") {
          if (typeof el.url === "string") links.push({ label: t(el.text), url: el.url });
          else
            buttons.push({
              id: String(el.action_id),
              label: t(el.text),
              ...(typeof el.value === "string" ? { value: el.value } : {}),
            });
        } else {
          texts.push(t(el));
        }
      }
    }
  }
  return { text: texts.join("\n"), buttons, links };
}
