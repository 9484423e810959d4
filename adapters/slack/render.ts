import type { KnownBlock, View } from "@slack/web-api";
import { breakLinks, renderMarkup, withoutMarks } from "../../src/chat/markup.ts";
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

/** Section text is capped at 3000 characters by Slack; a longer card is cut, not refused. */
function clip(text: string, max = 3000): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * A string from a user or from outside, made inert for Slack mrkdwn: `&`, `<`
 * and `>` as entities (so no `<!channel>`, `<@U…>` or `<url|label>` forms), the
 * broadcast words and link schemes broken with a zero-width space.
 */
export function slackEscape(text: string): string {
  return breakLinks(
    text
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/@(channel|here|everyone)/gi, "@\u200B$1"),
  );
}

/**
 * labops' markup (src/chat/markup.ts) as Slack mrkdwn: the parts marked
 * verbatim escaped; the rest is already mrkdwn, and labops never writes a
 * special command (`<!…>`) itself, so none survives.
 */
export function slackMarkup(text: string): string {
  return renderMarkup(text, (trusted) => trusted.replace(/<!/g, "&lt;!"), slackEscape);
}

/** A plain-text part of a card (title, field, step) in mrkdwn: escaped whole. */
function plain(text: string): string {
  return slackEscape(withoutMarks(text));
}

/** Plain text for notifications and clients that do not render blocks. */
export function cardText(card: Card): string {
  return clip(`${plain(card.title)}${card.text ? `: ${slackMarkup(card.text)}` : ""}`);
}

/** mrkdwn that Slack does not auto-link or auto-mention: only what labops wrote as a link or mention is one. */
const mrkdwn = (text: string) => ({ type: "mrkdwn" as const, text, verbatim: true });

export function cardBlocks(card: Card): KnownBlock[] {
  const blocks: KnownBlock[] = [
    { type: "section", text: mrkdwn(clip(`${STATUS_ICON[card.status]} *${plain(card.title)}*`)) },
  ];
  if (card.text) blocks.push({ type: "section", text: mrkdwn(clip(slackMarkup(card.text))) });
  if (card.progress) {
    blocks.push({
      type: "context",
      elements: [mrkdwn(`\`${progressBar(card.progress.done, card.progress.total)}\``)],
    });
  }
  if (card.steps && card.steps.length > 0) {
    const lines = card.steps.map((s) => {
      const took = s.durationMs !== undefined ? ` _${formatDurationShort(s.durationMs)}_` : "";
      const detail = s.detail ? ` — ${plain(s.detail)}` : "";
      return `${STEP_ICON[s.state]} ${plain(s.label)}${took}${detail}`;
    });
    blocks.push({ type: "section", text: mrkdwn(clip(lines.join("\n"))) });
  }
  if (card.fields && card.fields.length > 0) {
    blocks.push({
      type: "section",
      fields: card.fields
        .slice(0, 10)
        .map((f) => mrkdwn(clip(`*${plain(f.label)}*\n${plain(f.value)}`, 2000))),
    });
  }
  if (card.actions && card.actions.length > 0) {
    blocks.push({
      type: "actions",
      block_id: "actions",
      elements: card.actions.slice(0, 25).map((a, i) =>
        a.kind === "link"
          ? {
              type: "button",
              text: { type: "plain_text", text: withoutMarks(a.label) },
              url: a.url,
              // Slack sends block_actions for link buttons too; the app acknowledges and ignores them.
              action_id: `link.${i}`,
            }
          : {
              type: "button",
              text: { type: "plain_text", text: withoutMarks(a.label) },
              action_id: a.id,
              value: a.value,
              ...(a.style ? { style: a.style } : {}),
            },
      ),
    });
  }
  if (card.footer) blocks.push({ type: "context", elements: [mrkdwn(clip(slackMarkup(card.footer)))] });
  return blocks;
}

export const ROTATE_CALLBACK_ID = "secret.rotate";
export const VALUE_ACTION_ID = "value";

/**
 * What the rotate modal carries through Slack and back: what it asks for and
 * the channel it was asked in (a view_submission names no channel), never the
 * value. The workspace is the submission's own, and the correlation id is made
 * anew when it comes back: nothing of it is taken on trust.
 */
export interface RotateModalMetadata {
  secret: string;
  lab?: string;
  channel: string;
  /** `--new`: the secret may be one the lab does not have yet. */
  create?: true;
  /** The tag that authenticates the rest (src/commands/form-link.ts). */
  sig: string;
}

/** Slack's ids (channels, workspaces): capital letters and digits. */
const SLACK_ID = /^[A-Z0-9]{1,64}$/;

/**
 * The metadata of a submitted rotate modal, as far as the adapter needs it:
 * the channel, checked against Slack's id pattern; `secret` and `lab` as they
 * came, for the core to check (src/commands/actions.ts). Undefined when it is
 * not JSON, not an object, or names no channel.
 */
export function readRotateModalMetadata(
  raw: unknown,
): { secret: unknown; lab: unknown; create: unknown; sig: unknown; channel: string } | undefined {
  let meta: unknown;
  try {
    meta = typeof raw === "string" ? JSON.parse(raw) : undefined;
  } catch {
    return undefined;
  }
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) return undefined;
  const { secret, lab, create, sig, channel } = meta as Record<string, unknown>;
  if (typeof channel !== "string" || !SLACK_ID.test(channel)) return undefined;
  return { secret, lab, create, sig, channel };
}

/** The modal `/secret rotate NAME` opens, so the new value is typed privately, never as command text. */
export function rotateModal(meta: RotateModalMetadata): View {
  const where = meta.lab ? ` in lab \`${slackEscape(meta.lab)}\`` : "";
  return {
    type: "modal",
    callback_id: ROTATE_CALLBACK_ID,
    private_metadata: JSON.stringify(meta),
    title: { type: "plain_text", text: "Rotate a secret" },
    submit: { type: "plain_text", text: "Rotate" },
    close: { type: "plain_text", text: "Cancel" },
    blocks: [
      {
        type: "section",
        text: {
          type: "mrkdwn",
          text: `New value of \`${slackEscape(meta.secret)}\`${where}. It goes to Key Vault and is never shown in the channel or kept by labops.`,
        },
      },
      {
        type: "input",
        block_id: VALUE_ACTION_ID,
        label: { type: "plain_text", text: "New value" },
        element: { type: "plain_text_input", action_id: VALUE_ACTION_ID, max_length: 3000 },
      },
    ],
  };
}
