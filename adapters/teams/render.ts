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
    textBlock(`${status.icon} ${card.title}`, { weight: "Bolder", size: "Medium", color: status.color }),
  ];
  if (card.text) body.push(textBlock(teamsMarkdown(card.text)));
  if (card.progress) {
    body.push(
      textBlock(bar(card.progress.done, card.progress.total), { fontType: "Monospace", spacing: "Small" }),
    );
  }
  if (card.steps && card.steps.length > 0) {
    body.push({
      type: "FactSet",
      facts: card.steps.map((s) => ({
        title: `${STEP_ICON[s.state]} ${s.label}`,
        value: [s.durationMs !== undefined ? durationShort(s.durationMs) : s.state, s.detail]
          .filter(Boolean)
          .join(" · "),
      })),
    });
  }
  if (card.fields && card.fields.length > 0) {
    body.push({
      type: "FactSet",
      facts: card.fields.map((f) => ({ title: f.label, value: teamsMarkdown(f.value) })),
    });
  }
  if (card.footer) body.push(textBlock(teamsMarkdown(card.footer), { size: "Small", isSubtle: true }));
  const actions = (card.actions ?? []).map((a) =>
    a.kind === "link"
      ? { type: "Action.OpenUrl", title: a.label, url: a.url }
      : {
          type: "Action.Execute",
          title: a.label,
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
export function rotateCard(input: { secret: string; lab: string | undefined }): AdaptiveCard {
  const where = input.lab ? ` in lab ${input.lab}` : "";
  return {
    type: "AdaptiveCard",
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    version: "1.5",
    body: [
      textBlock(`🔑 Rotate secret ${input.secret}${where}`, { weight: "Bolder" }),
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
        },
        style: "positive",
      },
    ],
  };
}
