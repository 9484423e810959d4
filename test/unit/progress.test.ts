import { describe, expect, it } from "vitest";
import { ProgressReporter } from "../../jobs/processors/progress.ts";
import { createLogger } from "../../src/log.ts";
import type { Card, ChatMessage, ChatPort, ThreadRef } from "../../src/ports/chat.ts";
import { ManualClock } from "../fakes/clock.ts";

const thread: ThreadRef = {
  address: { platform: "slack", tenant: "T1", channel: "C1" },
  threadId: "1.0",
  cardId: "1.0",
};

/** A chat port that records replies and can say which ones a thread already holds. */
function chat(inThread: string[] = [], canRead = true): ChatPort & { replies: string[] } {
  const replies: string[] = [];
  const port: ChatPort & { replies: string[] } = {
    replies,
    openThread: async () => thread,
    updateCard: async (_t: ThreadRef, _c: Card) => undefined,
    reply: async (_t: ThreadRef, m: ChatMessage) => {
      replies.push(String(m));
    },
    notify: async () => undefined,
    postAlert: async () => thread,
    askConfirmation: async () => undefined,
  };
  if (canRead) port.hasReply = async (_t, text) => inThread.includes(text) || replies.includes(text);
  return port;
}

function reporter(port: ChatPort, announced: string[], saved: string[][]) {
  return new ProgressReporter({
    chat: port,
    thread,
    logger: createLogger({ level: "silent" }),
    clock: new ManualClock(),
    view: {
      lab: "a",
      verb: "create",
      status: "running",
      steps: ["rg", "aks", "kv"].map((name) => ({ name, label: name, state: "pending" as const })),
      correlationId: "c-1",
      startedAt: 0,
      now: 0,
    },
    milestones: {
      kv: (e) => `Key Vault \`${e.outputs.name}\` is ready.`,
      aks: () => "Cluster is up.",
      rg: () => undefined,
    },
    announced,
    onAnnounced: async (steps) => {
      saved.push(steps);
    },
  });
}

const done = { rg: { outputs: {}, durationMs: 1 }, kv: { outputs: { name: "kv-a" }, durationMs: 2 } };

describe("ProgressReporter milestones across a worker's death", () => {
  it("says a milestone the dead worker never said, and records it", async () => {
    const port = chat();
    const saved: string[][] = [];
    const progress = reporter(port, [], saved);
    progress.catchUp(done);
    await progress.flush();
    expect(port.replies).toEqual(["Key Vault `kv-a` is ready."]);
    expect(saved).toEqual([["kv"]]);
  });

  it("does not say it again when the thread already holds it (said, then killed before recording)", async () => {
    const port = chat(["Key Vault `kv-a` is ready."]);
    const saved: string[][] = [];
    const progress = reporter(port, [], saved);
    progress.catchUp(done);
    await progress.flush();
    expect(port.replies).toEqual([]);
    expect(saved).toEqual([["kv"]]);
  });

  it("says nothing for milestones recorded as said", async () => {
    const port = chat();
    const progress = reporter(port, ["kv"], []);
    progress.catchUp(done);
    progress.onEvent({ type: "finished", step: "kv", durationMs: 2, outputs: { name: "kv-a" }, at: 0 });
    await progress.flush();
    expect(port.replies).toEqual([]);
  });

  it("says it where the platform cannot read a thread back (at least once)", async () => {
    const port = chat(["Key Vault `kv-a` is ready."], false);
    const progress = reporter(port, [], []);
    progress.catchUp(done);
    await progress.flush();
    expect(port.replies).toEqual(["Key Vault `kv-a` is ready."]);
  });

  it("records as said only milestones whose reply is out, not those queued behind it", async () => {
    // Two steps finish together: the first reply goes out and is recorded while the second
    // still waits its turn. A worker killed then must not have recorded the second as said.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const port = chat();
    const slowReply = port.reply;
    port.reply = async (t, m) => {
      if (String(m).startsWith("Key Vault")) await gate;
      await slowReply(t, m);
    };
    const saved: string[][] = [];
    const progress = reporter(port, [], saved);
    progress.onEvent({ type: "finished", step: "aks", durationMs: 1, outputs: {}, at: 0 });
    progress.onEvent({ type: "finished", step: "kv", durationMs: 2, outputs: { name: "kv-a" }, at: 0 });
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(saved).toEqual([["aks"]]);
    release();
    await progress.flush();
    expect(saved).toEqual([["aks"], ["aks", "kv"]]);
    expect(port.replies).toEqual(["Cluster is up.", "Key Vault `kv-a` is ready."]);
  });
});
