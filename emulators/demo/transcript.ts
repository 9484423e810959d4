import type { SlackMessage } from "../slack/index.ts";

/**
 * The headless demo's reading of the Slack channel: Block Kit and mrkdwn
 * turned into plain text a terminal shows well (no `*`, `<@U…>` or
 * `:emoji:`), each card as a short block, every line at most 100 characters.
 */

export const MAX_LINE = 100;

export type CardState =
  | "queued"
  | "running"
  | "succeeded"
  | "failed"
  | "cancelled"
  | "info"
  | "warning"
  | "none";

/** The Slack adapter's status icons (adapters/slack/render.ts), and the word each stands for. */
const CARD_ICONS: Record<string, CardState> = {
  ":white_check_mark:": "succeeded",
  ":x:": "failed",
  ":warning:": "warning",
  ":information_source:": "info",
  ":no_entry_sign:": "cancelled",
  ":arrows_counterclockwise:": "running",
  ":hourglass_flowing_sand:": "queued",
};

export type StepState = "pending" | "running" | "done" | "failed" | "skipped";

const STEP_ICONS: Record<string, StepState> = {
  ":white_circle:": "pending",
  ":large_blue_circle:": "running",
  ":white_check_mark:": "done",
  ":x:": "failed",
  ":heavy_minus_sign:": "skipped",
};

export const FINAL_STATES: readonly CardState[] = ["succeeded", "failed", "cancelled", "info", "warning"];

interface Block {
  type?: string;
  text?: { type?: string; text?: string };
  fields?: Array<{ text?: string }>;
  elements?: Array<{ type?: string; text?: string | { text?: string }; url?: string }>;
}

const blocksOf = (m: SlackMessage) => (m.blocks ?? []) as Block[];

/** The status of a bot card, read from the icon its title starts with. */
export function cardState(message: SlackMessage): CardState {
  const title = blocksOf(message)[0]?.text?.text ?? "";
  for (const [icon, state] of Object.entries(CARD_ICONS)) if (title.startsWith(icon)) return state;
  return "none";
}

export function cardRef(message: SlackMessage): string | undefined {
  return /ref (c-[a-z0-9-]+)/.exec(JSON.stringify(message.blocks ?? []))?.[1];
}

export interface CardStep {
  state: StepState;
  label: string;
  /** How long it took, when the card says. */
  took?: string;
  detail?: string;
}

/** The checklist of a job card: one line per step, `:icon: Label _took_ — detail`. */
export function cardSteps(message: SlackMessage): CardStep[] {
  const steps: CardStep[] = [];
  // The first section is the title, whose status icon may look like a step's.
  for (const block of blocksOf(message).slice(1)) {
    const text = block.type === "section" ? block.text?.text : undefined;
    if (!text) continue;
    const lines = text.split("\n");
    if (!lines.every((l) => Object.keys(STEP_ICONS).some((i) => l.startsWith(`${i} `)))) continue;
    for (const line of lines) {
      const icon = line.slice(0, line.indexOf(" "));
      const m = /^(.*?)(?: _([^_]+)_)?(?: — (.*))?$/.exec(line.slice(icon.length + 1)) ?? [];
      steps.push({
        state: STEP_ICONS[icon] ?? "pending",
        label: m[1] ?? "",
        ...(m[2] ? { took: m[2] } : {}),
        ...(m[3] ? { detail: plain(m[3]) } : {}),
      });
    }
  }
  return steps;
}

/** The progress a card shows (its bar's "done/total"), if any. */
export function cardProgress(message: SlackMessage): { done: number; total: number } | undefined {
  for (const block of blocksOf(message)) {
    if (block.type !== "context") continue;
    for (const e of block.elements ?? []) {
      const m = /^`[█░]+ (\d+)\/(\d+)`$/.exec(typeof e.text === "string" ? e.text : "");
      if (m) return { done: Number(m[1]), total: Number(m[2]) };
    }
  }
  return undefined;
}

/** Slack mrkdwn as plain text: mentions by name, links as "label (url)", no marks, icons as words. */
export function plain(text: string, names: Record<string, string> = {}): string {
  return text
    .replace(/<@([A-Z0-9]+)>/g, (_, id: string) => `@${names[id] ?? id}`)
    .replace(/<!(here|channel|everyone)>/g, "@$1")
    .replace(/<#[A-Z0-9]+\|([^>]+)>/g, "#$1")
    .replace(/<(https?:[^|>]+)\|([^>]+)>/g, "$2 ($1)")
    .replace(/<(https?:[^>]+)>/g, "$1")
    .replace(/```([\s\S]*?)```/g, "$1")
    .replace(/`([^`\n]+)`/g, '"$1"')
    .replace(/(^|[\s(])\*([^*\n]+)\*/g, "$1$2")
    .replace(/(^|[\s(])_([^_\n]+)_/g, "$1$2")
    .replace(/(^|[\s(])~([^~\n]+)~/g, "$1$2")
    .replace(/:([a-z0-9_+-]+):\s?/g, (all, name: string) => {
      const word = CARD_ICONS[`:${name}:`] ?? STEP_ICONS[`:${name}:`];
      return word ? `[${word}] ` : all;
    })
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/**
 * Wraps `text` at spaces so that no line is longer than `width`: continuation
 * lines and the lines after a newline get `indent`; a word longer than a line
 * (a URL) is cut.
 */
export function wrap(text: string, width = MAX_LINE, indent = ""): string[] {
  const out: string[] = [];
  text.split("\n").forEach((para, i) => {
    const lead = i === 0 ? (/^ */.exec(para)?.[0] ?? "") : indent;
    let line = lead;
    for (const word of para.trim().split(/ +/)) {
      if (line === lead) line += word;
      else if (line.length + 1 + word.length <= width) line += ` ${word}`;
      else {
        out.push(line);
        line = indent + word;
      }
      while (line.length > width && width > indent.length + 1) {
        out.push(line.slice(0, width));
        line = indent + line.slice(width);
      }
    }
    out.push(line);
  });
  return out;
}

const STATE_WORD: Record<CardState, string> = {
  queued: "queued",
  running: "running",
  succeeded: "done",
  failed: "FAILED",
  cancelled: "cancelled",
  info: "info",
  warning: "warning",
  none: "",
};

/**
 * A card as a short block: its title with a state word, its text, a one-line
 * summary of its steps (the unfinished ones named), its fields on as few lines
 * as fit, its buttons, and its ref. Lines are indented by `indent`.
 */
export function cardBlock(message: SlackMessage, names: Record<string, string>, indent = ""): string[] {
  const blocks = blocksOf(message);
  if (blocks.length === 0) return wrap(`${indent}${plain(message.text, names)}`, MAX_LINE, `${indent}  `);
  const state = cardState(message);
  const out: string[] = [];
  const add = (text: string) => out.push(...wrap(`${indent}${text}`, MAX_LINE, `${indent}  `));
  const steps = cardSteps(message);
  let first = true;
  for (const block of blocks) {
    if (block.type === "section" && block.text?.text) {
      const text = block.text.text;
      if (first) {
        const title = plain(text, names).replace(/^\[[a-z]+\] /, "");
        add(state === "none" ? title : `${title} [${STATE_WORD[state]}]`);
      } else if (!steps.length || !Object.keys(STEP_ICONS).some((i) => text.startsWith(i))) {
        for (const line of plain(text, names).split("\n")) add(line);
      } else {
        add(stepsSummary(steps));
      }
    } else if (block.type === "section" && block.fields) {
      add(block.fields.map((f) => plain((f.text ?? "").replace("\n", ": "), names)).join(" · "));
    } else if (block.type === "actions") {
      const labels = (block.elements ?? []).map((e) => (typeof e.text === "string" ? e.text : e.text?.text));
      add(`buttons: ${labels.filter(Boolean).join(" · ")}`);
    } else if (block.type === "context") {
      const texts = (block.elements ?? []).map((e) => (typeof e.text === "string" ? e.text : ""));
      // The progress bar says no more than the steps' summary.
      const kept = texts.filter((t) => t !== "" && !/^`[█░]+ \d+\/\d+`$/.test(t));
      if (kept.length > 0) add(kept.map((t) => plain(t, names)).join(" · "));
    }
    first = false;
  }
  return out;
}

/** "12/12 steps done", or the count and the steps that failed or run (the first named, then how many more). */
export function stepsSummary(steps: CardStep[]): string {
  const done = steps.filter((s) => s.state === "done" || s.state === "skipped").length;
  const parts = [`${done}/${steps.length} steps done`];
  for (const state of ["failed", "running"] as const) {
    const these = steps.filter((x) => x.state === state);
    const [first] = these;
    if (!first) continue;
    const more = these.length > 1 ? ` (and ${these.length - 1} more)` : "";
    parts.push(`${state}: ${first.label}${first.detail ? ` (${first.detail})` : ""}${more}`);
  }
  return parts.join(" · ");
}

/** Shortens `text` to `max` characters with an ellipsis. */
export function clip(text: string, max = MAX_LINE): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
