import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Card, ChatAddress, ChatPort, ChatUser, ThreadRef } from "../../src/ports/chat.ts";

/** A message as a person sees it, whatever the platform drew. */
export interface VisibleMessage {
  /** Every piece of text shown, joined. */
  text: string;
  buttons: Array<{ id: string; value?: string; label: string }>;
  links: Array<{ label: string; url: string }>;
}

export interface ChatHarness {
  /** The implementation under test, as the bot runs it (platforms: paced, against their emulator). */
  chat: ChatPort;
  /** A conversation no other test uses. */
  address: ChatAddress;
  user: ChatUser;
  /** Resolves when everything the chat accepted has reached the platform. */
  settle(): Promise<void>;
  roots(): Promise<VisibleMessage[]>;
  read(thread: ThreadRef): Promise<{ root: VisibleMessage; replies: VisibleMessage[] }>;
  /** What `user` was told, oldest first. */
  notices(user: ChatUser): Promise<VisibleMessage[]>;
  close(): Promise<void>;
}

const card = (title: string, extra: Partial<Card> = {}): Card => ({ title, status: "running", ...extra });

/**
 * The one contract every ChatPort keeps: RecordingChat, and SlackChat and
 * TeamsChat (paced) through their emulators. It speaks of what a user sees,
 * so the same assertions hold for Block Kit and Adaptive Cards.
 */
export function chatPortContract(name: string, setup: () => Promise<ChatHarness>): void {
  describe(`ChatPort contract: ${name}`, () => {
    let h: ChatHarness;
    beforeEach(async () => {
      h = await setup();
    });
    afterEach(async () => {
      await h?.close();
    });

    it("opens a thread: the card becomes a new top-level message", async () => {
      const before = (await h.roots()).length;
      const thread = await h.chat.openThread(
        h.address,
        card("Lab team-a: creating", {
          steps: [
            { name: "rg", label: "Resource group", state: "done", durationMs: 3_000 },
            { name: "aks", label: "AKS cluster", state: "running" },
          ],
          progress: { done: 1, total: 2 },
          footer: "ref c-contract",
        }),
      );
      await h.settle();
      expect(thread.address.platform).toBe(h.address.platform);
      const roots = await h.roots();
      expect(roots).toHaveLength(before + 1);
      const { root } = await h.read(thread);
      expect(root.text).toContain("Lab team-a: creating");
      expect(root.text).toContain("AKS cluster");
      expect(root.text).toContain("ref c-contract");
    });

    it("rewrites the card in place and ends on the latest one", async () => {
      const thread = await h.chat.openThread(h.address, card("version 0"));
      for (let i = 1; i <= 6; i++) await h.chat.updateCard(thread, card(`version ${i}`));
      await h.settle();
      const roots = await h.roots();
      expect(roots.filter((r) => r.text.includes("version"))).toHaveLength(1);
      const { root } = await h.read(thread);
      expect(root.text).toContain("version 6");
      expect(root.text).not.toContain("version 0");
    });

    it("replies in the thread, in order, with text or a card", async () => {
      const thread = await h.chat.openThread(h.address, card("with replies"));
      await h.chat.reply(thread, "first milestone");
      await h.chat.reply(
        thread,
        card("AKS cluster ready", { status: "succeeded", text: "issuer published" }),
      );
      await h.settle();
      const { replies } = await h.read(thread);
      expect(replies.map((r) => r.text.includes("first milestone"))).toEqual([true, false]);
      expect(replies[1]?.text).toContain("AKS cluster ready");
      expect(replies[1]?.text).toContain("issuer published");
      expect(await h.roots()).toHaveLength(1);
    });

    it("carries buttons with their values, and links", async () => {
      const thread = await h.chat.openThread(
        h.address,
        card("Lab team-a failed", {
          status: "failed",
          actions: [
            { kind: "button", id: "lab.retry", label: "Retry", value: "team-a", style: "primary" },
            { kind: "button", id: "lab.extend", label: "Extend 4h", value: "team-a" },
            { kind: "link", label: "Open in Azure portal", url: "https://portal.azure.com/#@t/resource/x" },
          ],
        }),
      );
      await h.settle();
      const { root } = await h.read(thread);
      expect(root.buttons.map((b) => [b.id, b.value])).toEqual([
        ["lab.retry", "team-a"],
        ["lab.extend", "team-a"],
      ]);
      expect(root.links).toEqual([
        { label: "Open in Azure portal", url: "https://portal.azure.com/#@t/resource/x" },
      ]);
    });

    it("tells one user something", async () => {
      await h.chat.notify(h.address, h.user, "Only you can see this: lab team-a is busy.");
      await h.settle();
      const notices = await h.notices(h.user);
      expect(notices.at(-1)?.text).toContain("lab team-a is busy");
    });

    it("asks for a confirmation with buttons that carry its id", async () => {
      await h.chat.askConfirmation(h.address, h.user, {
        confirmationId: "cf-contract-1",
        title: "Destroy lab team-a?",
        text: "This deletes everything.",
        confirmLabel: "Destroy team-a",
        cancelLabel: "Cancel",
        expiresAt: Date.now() + 5 * 60_000,
      });
      await h.settle();
      const asked = (await h.notices(h.user)).at(-1);
      expect(asked?.text).toContain("Destroy lab team-a?");
      expect(asked?.buttons.map((b) => [b.id, b.value])).toEqual([
        ["destroy.confirm", "cf-contract-1"],
        ["destroy.cancel", "cf-contract-1"],
      ]);
    });

    it("posts an alert as a thread of its own", async () => {
      const lab = await h.chat.openThread(h.address, card("lab thread"));
      const alert = await h.chat.postAlert(h.address, card("Secret color rotated", { status: "info" }));
      await h.chat.reply(alert, "3 of 3 pods run version 2");
      await h.settle();
      expect(alert.threadId).not.toBe(lab.threadId);
      expect((await h.read(alert)).replies.map((r) => r.text)).toEqual([
        expect.stringContaining("3 of 3 pods"),
      ]);
      expect((await h.read(lab)).replies).toHaveLength(0);
    });
  });
}
