import { breakLinks, renderMarkup, withoutMarks } from "../../src/chat/markup.ts";
import { ACTION } from "../../src/commands/actions.ts";
import type { Card, CardStatus, StepState } from "../../src/ports/chat.ts";

/**
 * Adaptive Cards for Teams. Version 1.5 (the newest Teams renders); buttons
 * are Action.Execute (Universal Actions), so a press reaches the bot as an
 * `adaptiveCard/action` invoke that it answers in the same request, with a
 * replacement card or a message. Kept in the adapter: the core knows no
 * Teams shapes.
 */
export const ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive";
export type AdaptiveCard = Record<string, unknown> & {
  type: "AdaptiveCard";
  version: string;
  body: unknown[];
};

const STATUS: Record<CardStatus, { icon: string; color: string }> = {
  queued: { icon: "⏳", color: "Default" },
  running: { icon: "🔄", color: "Accent" },
  succeeded: { icon: "✅", color: "Good" },
  failed: { icon: "❌", color: "Attention" },
  cancelled: { icon: "🚫", color: "Warning" },
  info: { icon: "ℹ️", color: "Default" },
  warning: { icon: "⚠️", color: "Warning" },
};

const STEP_ICON: Record<StepState, string> = {
  pending: "⚪",
  running: "🔵",
  done: "✅",
  failed: "❌",
  skipped: "➖",
};

/** Slack-flavoured markdown (what the core writes) as Teams markdown: *bold* -> **bold**, <url|label> -> [label](url). */
export function teamsMarkdown(text: string): string {
  return text
    .replace(/<(https?:[^|>]+)\|([^>]+)>/g, "[$2]($1)")
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=[\s).,:;!?]|$)/g, "$1**$2**");
}

/**
 * A string from a user or from outside, made inert for Teams markdown (Adaptive
 * Card TextBlocks and facts, message text): every character that could open a
 * link (`[x](y)`), emphasis (`*`, `~`, `_` at a word's edge), code, or an HTML
 * tag or entity (`<at>`, `&`) is backslash-escaped (a backtick stays: Teams has no code spans), and link schemes are
 * broken with a zero-width space so no URL is auto-linked.
 */
export function teamsEscape(text: string): string {
  return breakLinks(
    text.replace(/[\\*~[\]<>&]/g, "\\$&").replace(/(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, "\\_"),
  );
}

/** labops' markup (src/chat/markup.ts) as Teams markdown: the parts marked verbatim escaped. */
export function teamsMarkup(text: string): string {
  return renderMarkup(text, teamsMarkdown, teamsEscape);
}

/** A plain-text part of a card (title, field, step) in Teams markdown: escaped whole. */
function plain(text: string): string {
  return teamsEscape(withoutMarks(text));
}

function durationShort(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

function bar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? 0 : Math.round((done / total) * width);
  return `${"█".repeat(filled)}${"░".repeat(width - filled)} ${done}/${total}`;
}

const textBlock = (text: string, extra: Record<string, unknown> = {}) => ({
  type: "TextBlock",
  text,
  wrap: true,
  ...extra,
});

export function adaptiveCard(card: Card): AdaptiveCard {
  const status = STATUS[card.status];
  const body: unknown[] = [
    textBlock(`${status.icon} ${plain(card.title)}`, {
      weight: "Bolder",
      size: "Medium",
      color: status.color,
    }),
  ];
  if (card.text) body.push(textBlock(teamsMarkup(card.text)));
  if (card.progress) {
    body.push(
      textBlock(bar(card.progress.done, card.progress.total), { fontType: "Monospace", spacing: "Small" }),
    );
  }
  if (card.steps && card.steps.length > 0) {
    body.push({
      type: "FactSet",
      facts: card.steps.map((s) => ({
        title: `${STEP_ICON[s.state]} ${plain(s.label)}`,
        value: [
          s.durationMs !== undefined ? durationShort(s.durationMs) : s.state,
          s.detail && plain(s.detail),
        ]
          .filter(Boolean)
          .join(" · "),
      })),
    });
  }
  if (card.fields && card.fields.length > 0) {
    body.push({
      type: "FactSet",
      facts: card.fields.map((f) => ({ title: plain(f.label), value: plain(f.value) })),
    });
  }
  if (card.footer) body.push(textBlock(teamsMarkup(card.footer), { size: "Small", isSubtle: true }));
  const actions = (card.actions ?? []).map((a) =>
    a.kind === "link"
      ? { type: "Action.OpenUrl", title: withoutMarks(a.label), url: a.url }
      : {
          type: "Action.Execute",
          title: withoutMarks(a.label),
          verb: a.id,
          data: { value: a.value },
          ...(a.style === "danger"
            ? { style: "destructive" }
            : a.style === "primary"
              ? { style: "positive" }
              : {}),
        },
  );
  return {
    type: "AdaptiveCard",
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    version: "1.5",
    body,
    ...(actions.length > 0 ? { actions } : {}),
  };
}

export const ROTATE_SUBMIT_VERB = ACTION.rotateSubmit;
/** Teams puts an input's value into the action's `data` under its id: `value` is what the core reads. */
export const VALUE_INPUT_ID = "value";

/**
 * Teams' counterpart of Slack's modal: a password input whose value travels
 * only in the invoke. Its `data` names the secret and lab, checked again when
 * it comes back; no correlation id (the server makes a new one).
 */
export function rotateCard(input: {
  secret: string;
  lab: string | undefined;
  create?: boolean | undefined;
  /** The tag that authenticates secret, lab and create (src/commands/form-link.ts). */
  sig: string;
}): AdaptiveCard {
  const where = input.lab ? ` in lab ${teamsEscape(input.lab)}` : "";
  return {
    type: "AdaptiveCard",
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    version: "1.5",
    body: [
      textBlock(`🔑 Rotate secret ${teamsEscape(input.secret)}${where}`, { weight: "Bolder" }),
      textBlock("The new value goes to Key Vault. It is never shown in the channel or kept by labops.", {
        isSubtle: true,
      }),
      {
        type: "Input.Text",
        id: VALUE_INPUT_ID,
        label: "New value",
        style: "Password",
        isRequired: true,
        errorMessage: "Type the new value.",
        maxLength: 25_600,
      },
    ],
    actions: [
      {
        type: "Action.Execute",
        title: "Rotate",
        verb: ROTATE_SUBMIT_VERB,
        data: {
          secret: input.secret,
          ...(input.lab ? { lab: input.lab } : {}),
          ...(input.create ? { create: true } : {}),
          sig: input.sig,
        },
        style: "positive",
      },
    ],
  };
}
