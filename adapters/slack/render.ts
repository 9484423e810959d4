import type { KnownBlock } from "@slack/web-api";
import type { Card, CardStatus, StepState } from "../../src/ports/chat.ts";

/** Block Kit for a Card. Kept in the adapter: the core knows no Slack shapes. */

const STATUS_ICON: Record<CardStatus, string> = {
  queued: ":hourglass_flowing_sand:",
  running: ":arrows_counterclockwise:",
  succeeded: ":white_check_mark:",
  failed: ":x:",
  cancelled: ":no_entry_sign:",
  info: ":information_source:",
  warning: ":warning:",
};

const STEP_ICON: Record<StepState, string> = {
  pending: ":white_circle:",
  running: ":large_blue_circle:",
  done: ":white_check_mark:",
  failed: ":x:",
  skipped: ":heavy_minus_sign:",
};

export function formatDurationShort(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(s % 60).padStart(2, "0")}s`;
}

export function progressBar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? 0 : Math.round((done / total) * width);
  return `${"█".repeat(filled)}${"░".repeat(width - filled)} ${done}/${total}`;
}

/** Plain text for notifications and clients that do not render blocks. */
export function cardText(card: Card): string {
  return `${card.title}${card.text ? `: ${card.text}` : ""}`;
}

export function cardBlocks(card: Card): KnownBlock[] {
  const blocks: KnownBlock[] = [
    { type: "section", text: { type: "mrkdwn", text: `${STATUS_ICON[card.status]} *${card.title}*` } },
  ];
  if (card.text) blocks.push({ type: "section", text: { type: "mrkdwn", text: card.text } });
  if (card.progress) {
    blocks.push({
      type: "context",
      elements: [{ type: "mrkdwn", text: `\`${progressBar(card.progress.done, card.progress.total)}\`` }],
    });
  }
  if (card.steps && card.steps.length > 0) {
    const lines = card.steps.map((s) => {
      const took = s.durationMs !== undefined ? ` _${formatDurationShort(s.durationMs)}_` : "";
      const detail = s.detail ? ` — ${s.detail}` : "";
      return `${STEP_ICON[s.state]} ${s.label}${took}${detail}`;
    });
    blocks.push({ type: "section", text: { type: "mrkdwn", text: lines.join("\n") } });
  }
  if (card.fields && card.fields.length > 0) {
    blocks.push({
      type: "section",
      fields: card.fields.slice(0, 10).map((f) => ({ type: "mrkdwn", text: `*${f.label}*\n${f.value}` })),
    });
  }
  if (card.actions && card.actions.length > 0) {
    blocks.push({
      type: "actions",
      elements: card.actions.map((a) =>
        a.kind === "link"
          ? {
              type: "button",
              text: { type: "plain_text", text: a.label },
              url: a.url,
              action_id: `link.${a.label}`,
            }
          : {
              type: "button",
              text: { type: "plain_text", text: a.label },
              action_id: a.id,
              value: a.value,
              ...(a.style ? { style: a.style } : {}),
            },
      ),
    });
  }
  if (card.footer) blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: card.footer }] });
  return blocks;
}
