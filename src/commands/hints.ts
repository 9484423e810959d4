import { cardFor, suggestionsFor } from "../chat/hints.ts";
import type { Platform } from "../ports/chat.ts";
import type { IntakeOutcome } from "./intake.ts";

/** Intake's quick answer with its suggested commands as they are typed on `platform` (src/chat/hints.ts). */
export function forPlatform(outcome: IntakeOutcome, platform: Platform): IntakeOutcome {
  const text = suggestionsFor(outcome.text, platform);
  if (outcome.kind === "confirm") {
    return {
      ...outcome,
      text,
      card: cardFor(outcome.card, platform),
      prompt: { ...outcome.prompt, text: suggestionsFor(outcome.prompt.text, platform) },
    };
  }
  return { ...outcome, text };
}
