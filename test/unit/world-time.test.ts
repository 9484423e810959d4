import { describe, expect, it } from "vitest";
import { ProgressReporter } from "../../jobs/processors/progress.ts";
import { type ProgressView, progressCard } from "../../src/labs/cards.ts";
import {
  expiryText,
  retryDetail,
  tookText,
  USUAL_STEP_MS,
  usualText,
  worldNote,
} from "../../src/labs/world-time.ts";
import { createLogger } from "../../src/log.ts";
import type { Card, ChatPort, ThreadRef } from "../../src/ports/chat.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import { ManualClock } from "../fakes/clock.ts";

/** Issue 17, item 5: times said as they pass here, Azure's beside them when the world is sped up. */

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);
const thread: ThreadRef = {
  address: { platform: "slack", tenant: "T1", channel: "C1" },
  threadId: "1.0",
  cardId: "1.0",
};

function record(expiresAt: number): LabRecord {
  return {
    name: "team-a",
    state: "creating",
    owner: { platform: "slack", id: "U1", name: "ada" },
    address: thread.address,
    location: "westeurope",
    createdAt: T0,
    updatedAt: T0,
    expiresAt,
    outputs: {},
  } as LabRecord;
}

function view(timeScale: number, patch: Partial<ProgressView> = {}): ProgressView {
  return {
    lab: "team-a",
    verb: "create",
    status: "running",
    steps: [
      { name: "rg", label: "Resource group", state: "done", durationMs: 150 },
      { name: "aks", label: "AKS cluster", state: "running", startedAt: T0 + 1_000 },
      { name: "kv", label: "Key Vault", state: "pending" },
    ],
    correlationId: "c-1",
    startedAt: T0,
    now: T0 + 13_000,
    record: record(T0 + 48 * 60_000),
    timeScale,
    ...patch,
  };
}

const step = (card: Card, name: string) => card.steps?.find((s) => s.name === name);
const field = (card: Card, label: string) => card.fields?.find((f) => f.label === label)?.value;

describe("world time on cards", () => {
  it("shows a running step's time so far and what is usual, here and in Azure, when sped up", () => {
    const card = progressCard(view(10));
    expect(step(card, "aks")).toMatchObject({
      state: "running",
      durationMs: 12_000,
      detail: "usually 24–36s here, 4–6 min in Azure",
    });
    expect(step(card, "kv")?.detail).toBeUndefined();
    expect(card.footer).toBe(
      "ref c-1 · Emulated world, 10× faster than Azure: times are real time here, Azure's in brackets.",
    );
    expect(field(card, "Expires")).toBe("2026-12-01 09:48 UTC, 48m00s after creation (8h00m in Azure time)");
  });

  it("says Azure's times alone, with no note, at time scale 1", () => {
    const card = progressCard(view(1, { record: record(T0 + 8 * 3_600_000) }));
    expect(step(card, "aks")?.detail).toBe("usually 4–6 min");
    expect(card.footer).toBe("ref c-1");
    expect(field(card, "Expires")).toBe("2026-12-01 17:00 UTC, 8h00m after creation");
    expect(expiryText(T0 + 8 * 3_600_000, T0 + 60_000, 1)).toBe("2026-12-01 17:00 UTC, in 7h59m");
    expect(worldNote(1)).toBeUndefined();
  });

  it("says the usual range of every long step, destroy's too", () => {
    expect(usualText(USUAL_STEP_MS["rg-delete"] ?? [0, 0], 10)).toBe(
      "usually 30s–1 min here, 5–10 min in Azure",
    );
    expect(usualText(USUAL_STEP_MS.kv ?? [0, 0], 1)).toBe("usually 20s–1 min");
    expect(tookText(36_000, 10)).toBe("36s here, 6m00s in Azure");
    expect(usualText(USUAL_STEP_MS["kv-purge"] ?? [0, 0], 100)).toBe(
      "usually under 1s here, 30s–1 min in Azure",
    );
    expect(tookText(250_000, 1)).toBe("4m10s");
    expect(expiryText(T0, T0 + 1, 10)).toBe("2026-12-01 09:00 UTC, due now");
  });

  it("calls a Key Vault 403 right after the role was granted what it is: the role propagating", () => {
    expect(retryDetail("ForbiddenByRbac", 1_000, 1)).toBe(
      "waiting for the new Key Vault role to take effect (usually 1–2 min)",
    );
    expect(retryDetail("ForbiddenByRbac", 1_000, 10)).toBe(
      "waiting for the new Key Vault role to take effect (usually 6–12s here, 1–2 min in Azure)",
    );
    expect(retryDetail("ServiceUnavailable", 2_000, 10)).toBe("ServiceUnavailable, retrying in 2s");
  });
});

describe("the progress card keeps ticking while a step runs", () => {
  function setup() {
    const clock = new ManualClock({ now: T0, timeScale: 10 });
    const cards: Card[] = [];
    const chat: ChatPort = {
      openThread: async () => thread,
      updateCard: async (_t, card) => {
        cards.push(card);
      },
      reply: async () => undefined,
      notify: async () => undefined,
      postAlert: async () => thread,
      askConfirmation: async () => undefined,
    };
    const progress = new ProgressReporter({
      chat,
      thread,
      logger: createLogger({ level: "silent" }),
      clock,
      view: { ...view(10), steps: [{ name: "secrets", label: "Seed secrets", state: "pending" }] },
      tickMs: 5_000,
    });
    return { clock, cards, progress };
  }

  it("redraws every tick with the elapsed time, keeps the propagation wait in words, and stops when done", async () => {
    const { clock, cards, progress } = setup();
    progress.onEvent({ type: "started", step: "secrets", attempt: 1, at: clock.now() });
    progress.onEvent({
      type: "retrying",
      step: "secrets",
      attempt: 1,
      delayMs: 800,
      code: "ForbiddenByRbac",
      at: clock.now(),
    });
    await clock.advance(5_000);
    progress.onEvent({ type: "started", step: "secrets", attempt: 2, at: clock.now() });
    await clock.advance(5_000);
    await progress.flush();
    const last = cards.at(-1);
    expect(step(last as Card, "secrets")).toMatchObject({
      durationMs: 10_000,
      detail: "waiting for the new Key Vault role to take effect (usually 6–12s here, 1–2 min in Azure)",
    });
    const before = cards.length;
    progress.onEvent({ type: "finished", step: "secrets", durationMs: 10_500, outputs: {}, at: clock.now() });
    await clock.advance(20_000);
    await progress.flush();
    expect(cards.length).toBe(before + 1);
    expect(step(cards.at(-1) as Card, "secrets")).toMatchObject({ state: "done", durationMs: 10_500 });
    expect(clock.pending).toBe(0);
  });

  it("stops ticking when flushed mid-step (a job cancelled or handed over)", async () => {
    const { clock, cards, progress } = setup();
    progress.onEvent({ type: "started", step: "secrets", attempt: 1, at: clock.now() });
    await clock.advance(5_000);
    await progress.flush();
    const count = cards.length;
    await clock.advance(30_000);
    expect(cards.length).toBe(count);
    expect(clock.pending).toBe(0);
  });
});
