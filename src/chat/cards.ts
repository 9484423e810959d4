import type { Card, ConfirmationPrompt } from "../ports/chat.ts";

/** The card behind every confirmation prompt; both platforms render it with their buttons. */
/** `now` is the clock's time when the card is shown: its footer says how long is left. */
export function confirmationCard(prompt: ConfirmationPrompt, now: number): Card {
  const minutes = Math.max(1, Math.round((prompt.expiresAt - now) / 60_000));
  return {
    title: prompt.title,
    status: "warning",
    text: prompt.text,
    actions: [
      {
        kind: "button",
        id: "destroy.confirm",
        label: prompt.confirmLabel,
        value: prompt.confirmationId,
        style: "danger",
      },
      { kind: "button", id: "destroy.cancel", label: prompt.cancelLabel, value: prompt.confirmationId },
    ],
    footer: `Only you can answer this; it expires in ${minutes} min.`,
  };
}

/** Plain text of a card for notifications and logs of what was shown (never holds a value). */
export function cardSummary(card: Card): string {
  return `${card.title}${card.text ? `: ${card.text}` : ""}`;
}
