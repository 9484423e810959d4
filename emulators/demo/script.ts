import type { SlackMessage } from "../slack/index.ts";
import { DEMO_CHANNEL, DEMO_USER, DEMO_USER_NAME, type Demo } from "./demo.ts";
import {
  type CardState,
  cardProgress,
  cardRef,
  cardState,
  cardSteps,
  clip,
  FINAL_STATES,
  MAX_LINE,
  plain,
  stepsSummary,
  wrap,
} from "./transcript.ts";

/**
 * The headless demo (`npm run demo -- --script "…"`): commands typed one after
 * the other as the demo user, each followed to its end, with a line of
 * progress while a job runs and, at the end, why each failure failed.
 */

export interface ScriptStep {
  command: string;
  ack: string;
  /** A card state, or how the command was answered without one. */
  state: CardState | "refused" | "asked" | "answered";
  ok: boolean;
  /** What it came to (a card's title, an answer), in plain text. */
  outcome?: string;
  /** For a failure: why, in plain text. */
  why?: string;
}

const SLASH: Record<string, string> = { lab: "/lab", labs: "/lab", secret: "/secret", secrets: "/secret" };
const NAMES = { [DEMO_USER]: DEMO_USER_NAME, U0BOT: "labops" };
/** How long the bot stays quiet after an answer without a card before the command counts as answered. */
const QUIET_MS = 1_500;
const HEARTBEAT_MS = 10_000;

const firstLine = (m: SlackMessage) =>
  plain((m.blocks?.[0] as { text?: { text?: string } } | undefined)?.text?.text ?? m.text, NAMES)
    .replace(/^\[[a-z]+\] /, "")
    .split("\n")[0] ?? "";

/** Why a failed card failed: its text and its failed steps, in one line. */
function failure(card: SlackMessage): string {
  const texts = (card.blocks ?? [])
    .slice(1)
    .map((b) => (b as { type?: string; text?: { text?: string } }).text?.text ?? "")
    .filter((t) => t !== "" && !t.startsWith(":"));
  const failed = cardSteps(card)
    .filter((s) => s.state === "failed")
    .map((s) => `${s.label}${s.detail ? `: ${s.detail}` : ""}`);
  return [firstLine(card), ...texts.map((t) => plain(t, NAMES)), ...failed].join(" — ").replace(/\n/g, " ");
}

/**
 * Runs commands one after the other, as the demo user in the demo channel,
 * each until its card reaches a final state, or its answer arrives.
 */
export async function runScript(
  demo: Demo,
  commands: string[],
  options: { timeoutMs?: number; onProgress?: (line: string) => void } = {},
): Promise<ScriptStep[]> {
  const print = (text: string) => {
    for (const line of wrap(text, MAX_LINE, "    ")) options.onProgress?.(line);
  };
  const user = demo.chat.slack.as(DEMO_USER, DEMO_USER_NAME);
  const workspace = demo.chat.slack.workspace;
  const results: ScriptStep[] = [];
  for (const command of commands) {
    const [head = "", ...rest] = command.trim().split(/\s+/);
    const slash = SLASH[head.toLowerCase()] ?? "/lab";
    const text = SLASH[head.toLowerCase()] ? rest.join(" ") : command.trim();
    const before = workspace.messages.length;
    options.onProgress?.(`> ${slash} ${text}`);
    const delivery = await user.slash(slash, text, { channel: DEMO_CHANNEL });
    const ack = typeof delivery.body?.text === "string" ? delivery.body.text : "";
    print(`  ${plain(ack, NAMES)}`);
    const ref = /ref (c-[a-z0-9]+)/.exec(ack)?.[1];
    if (!ref) {
      results.push(answerWithoutJob(command, ack, delivery.status));
      // A form opened for a value the script did not give: closed, as the user would.
      for (const view of user.openViews()) view.open = false;
      continue;
    }
    results.push(await follow(command, ack, ref, before));
  }
  return results;

  async function follow(command: string, ack: string, ref: string, before: number): Promise<ScriptStep> {
    const started = Date.now();
    const deadline = started + (options.timeoutMs ?? 5 * 60_000);
    let said = "";
    let saidAt = started;
    for (;;) {
      const card = workspace.messages.find((m) => !m.ephemeral && !m.threadTs && cardRef(m) === ref);
      const state = card ? cardState(card) : "none";
      const since = workspace.messages.slice(before);
      if (card && FINAL_STATES.includes(state)) {
        const ok = state === "succeeded" || state === "info";
        return { command, ack, state, ok, outcome: firstLine(card), ...(ok ? {} : { why: failure(card) }) };
      }
      const notice = since.find((m) => m.ephemeral && m.visibleTo === DEMO_USER && !/ref c-/.test(m.text));
      if (!card && notice) {
        const why = plain(notice.text, NAMES);
        print(`  ${why}`);
        return { command, ack, state: "failed", ok: false, why };
      }
      // Some commands answer in a thread that already exists (lab extend) rather than with a card.
      const answer = since.filter((m) => !m.ephemeral && m.user !== DEMO_USER).at(-1);
      if (!card && answer && Date.now() - Number(answer.ts) * 1000 > QUIET_MS) {
        const outcome = firstLine(answer);
        print(`  ${outcome}`);
        return { command, ack, state: "answered", ok: true, outcome };
      }
      if (card) {
        // A line when what it says changes, and every 10 s while it does not: the wait is visible.
        const now = clip(cardProgress(card) ? stepsSummary(cardSteps(card)) : firstLine(card), MAX_LINE - 10);
        if (now !== said || Date.now() - saidAt >= HEARTBEAT_MS) {
          const secs = Math.round((Date.now() - started) / 1000);
          options.onProgress?.(`  … ${String(secs).padStart(3)}s  ${now}`);
          said = now;
          saidAt = Date.now();
        }
      }
      if (Date.now() > deadline) {
        const why = `no end within ${Math.round((options.timeoutMs ?? 300_000) / 1000)} s (the card says: ${card ? firstLine(card) : "nothing yet"})`;
        print(`  ${why}`);
        return { command, ack, state: "failed", ok: false, why };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A command answered in its acknowledgement: help, a confirmation to give, a form, or a refusal. */
function answerWithoutJob(command: string, ack: string, status: number): ScriptStep {
  const text = plain(ack, NAMES);
  if (status !== 200 || ack === "")
    return { command, ack, state: "refused", ok: false, why: `the bot answered HTTP ${status}` };
  if (/^Destroy lab .* Press /.test(ack)) {
    const lab = /^Destroy lab `([^`]+)`/.exec(ack)?.[1] ?? "NAME";
    return {
      command,
      ack,
      state: "asked",
      ok: false,
      why: `labops asks for a confirmation, which a script cannot press: write "lab destroy ${lab} --yes"`,
    };
  }
  if (/^Type the new value/.test(ack)) {
    return {
      command,
      ack,
      state: "asked",
      ok: false,
      why: 'the value goes in a private form, which a script cannot fill: write "secret rotate NAME VALUE"',
    };
  }
  // Help and lists are answered at once, in bold headings and bullets; anything else is a refusal.
  if (/^(\*|•)/.test(ack))
    return { command, ack, state: "info", ok: true, outcome: clip(text.split("\n")[0] ?? "", 60) };
  return { command, ack, state: "refused", ok: false, why: text.replace(/\n/g, " ") };
}

/** The closing summary: one line per command, failures with why; at most 100 characters a line. */
export function scriptSummary(steps: ScriptStep[]): string[] {
  const lines: string[] = [];
  for (const s of steps) {
    const tag = s.ok ? "ok   " : "FAIL ";
    const tail = s.ok ? (s.outcome ? ` — ${s.outcome}` : "") : `: ${s.why ?? "it did not end well"}`;
    const body = wrap(`${s.command} (${s.state})${tail}`, MAX_LINE - tag.length, "  ");
    lines.push(...body.map((line, i) => `${i === 0 ? tag : " ".repeat(tag.length)}${line}`));
  }
  const failed = steps.filter((s) => !s.ok).length;
  lines.push(
    failed === 0
      ? "All commands ended well."
      : `Some commands did not end well (${failed} of ${steps.length}); the reasons are above.`,
  );
  return lines;
}
