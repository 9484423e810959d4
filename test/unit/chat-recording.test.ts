import type { Card, ChatMessage } from "../../src/ports/chat.ts";
import { type ChatHarness, chatPortContract, type VisibleMessage } from "../contract/chat-port.contract.ts";
import { RecordingChat } from "../fakes/chat.ts";

/** RecordingChat keeps Cards as they are: this reads one the way a person would. */
function visible(message: ChatMessage): VisibleMessage {
  if (typeof message === "string") return { text: message, buttons: [], links: [] };
  const c: Card = message;
  const text = [
    c.title,
    c.text,
    ...(c.steps ?? []).map((s) => `${s.label} ${s.state}${s.detail ? ` ${s.detail}` : ""}`),
    ...(c.fields ?? []).map((f) => `${f.label} ${f.value}`),
    c.footer,
  ]
    .filter(Boolean)
    .join("\n");
  return {
    text,
    buttons: (c.actions ?? []).flatMap((a) =>
      a.kind === "button" ? [{ id: a.id, value: a.value, label: a.label }] : [],
    ),
    links: (c.actions ?? []).flatMap((a) => (a.kind === "link" ? [{ label: a.label, url: a.url }] : [])),
  };
}

chatPortContract("RecordingChat", async (): Promise<ChatHarness> => {
  const chat = new RecordingChat();
  const address = { platform: "slack", tenant: "T1", channel: "C-REC" } as const;
  return {
    chat,
    address,
    user: { platform: "slack", id: "U-REC" },
    settle: async () => undefined,
    roots: async () => chat.threadsIn(address).map((t) => visible(t.card)),
    read: async (thread) => {
      const t = chat.threads.get(thread.threadId);
      if (!t) throw new Error("no such thread");
      return { root: visible(t.card), replies: t.replies.map(visible) };
    },
    notices: async (user) => chat.noticesFor(user).map(visible),
    close: async () => undefined,
  };
});
