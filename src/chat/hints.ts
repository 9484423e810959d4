import type { Card, ChatMessage, ConfirmationPrompt, Platform } from "../ports/chat.ts";

/**
 * Commands suggested in a message, in the form the reader types them on
 * their platform: in Slack a slash command (`/lab list`, `/secret rotate …`,
 * `/lab help`), in Teams a message that @mentions the bot (`@labops lab list`).
 * The core writes a suggestion as the bare command in backticks after a word
 * that offers it ("say `help`", "run `lab destroy team-a` again", "Usage:
 * `lab create NAME`", "for example `…`"); an echo of what was asked ("Queued
 * `lab create team-a`") is left as it is. Applied once per message, at intake
 * for its quick answers and in the chat router for everything else; a
 * suggestion already in its platform's form is left alone.
 */

export const TEAMS_MENTION = "@labops";

const SUGGESTION =
  /(\b(?:say|run|with|try|use|usage:|example|e\.g\.|type|or)\s+)`((?:lab|secret|host|workshop|help)(?:\s[^`]*)?)`/gi;

/** The command as typed on `platform`. */
export function typedOn(command: string, platform: Platform): string {
  if (platform === "teams") return `${TEAMS_MENTION} ${command}`;
  return command === "help" ? "/lab help" : `/${command}`;
}

/** A text with its suggested commands in `platform`'s form. */
export function suggestionsFor(text: string, platform: Platform): string {
  return text.replace(
    SUGGESTION,
    (_all, lead: string, command: string) => `${lead}\`${typedOn(command, platform)}\``,
  );
}

/** A card with its suggested commands in `platform`'s form (text, fields, step details and footer). */
export function cardFor(card: Card, platform: Platform): Card {
  const t = (s: string) => suggestionsFor(s, platform);
  return {
    ...card,
    ...(card.text !== undefined ? { text: t(card.text) } : {}),
    ...(card.fields ? { fields: card.fields.map((f) => ({ ...f, value: t(f.value) })) } : {}),
    ...(card.steps
      ? { steps: card.steps.map((s) => (s.detail !== undefined ? { ...s, detail: t(s.detail) } : s)) }
      : {}),
    ...(card.footer !== undefined ? { footer: t(card.footer) } : {}),
  };
}

export function messageFor(message: ChatMessage, platform: Platform): ChatMessage {
  return typeof message === "string" ? suggestionsFor(message, platform) : cardFor(message, platform);
}

export function promptFor(prompt: ConfirmationPrompt, platform: Platform): ConfirmationPrompt {
  return { ...prompt, text: suggestionsFor(prompt.text, platform) };
}
