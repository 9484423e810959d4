import type { Cancel, Clock } from "../../src/clock.ts";
import { type ProgressView, progressCard, type StepView } from "../../src/labs/cards.ts";
import type { StepEvent } from "../../src/labs/runner.ts";
import { retryDetail } from "../../src/labs/world-time.ts";
import type { Logger } from "../../src/log.ts";
import type { ChatAddress, ChatPort, ThreadRef } from "../../src/ports/chat.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import type { ProcessorContext } from "./context.ts";

/**
 * Turns step events into the thread's status card and milestone replies.
 * Card updates go out as they happen; the chat layer coalesces them to what
 * Slack and Teams allow, keeping the latest. A failed chat call never fails
 * the lab: progress is a view, the registry is the truth. While a step runs,
 * the card is redrawn every `tickMs` (real time) so its time keeps moving;
 * the chat layer's pacing keeps that inside the platform's limits.
 */

/** How often a running card is redrawn: 12 updates a minute, well inside Slack's chat.update tier. */
export const PROGRESS_TICK_MS = 5_000;
export class ProgressReporter {
  readonly #chat: ChatPort;
  readonly #thread: ThreadRef;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #view: ProgressView;
  readonly #milestones: Record<string, (e: Extract<StepEvent, { type: "finished" }>) => string | undefined>;
  /** Steps whose milestone is said or queued to be said (so it is queued once). */
  readonly #announced: Set<string>;
  /** Steps whose milestone reply is out: only these are recorded as said. */
  readonly #said: Set<string>;
  readonly #onAnnounced: ((steps: string[]) => Promise<void>) | undefined;
  #pending: Promise<void> = Promise.resolve();
  readonly #tickMs: number;
  #ticker: Cancel | undefined;

  constructor(options: {
    chat: ChatPort;
    thread: ThreadRef;
    logger: Logger;
    /** The card's "now", for its elapsed times. */
    clock: Clock;
    view: ProgressView;
    milestones?: Record<string, (e: Extract<StepEvent, { type: "finished" }>) => string | undefined>;
    /** Steps whose milestone an earlier attempt of the job already said. */
    announced?: readonly string[];
    /** Persists the steps whose milestone has been said, once the reply is out. */
    onAnnounced?: (steps: string[]) => Promise<void>;
    /** How often a card with a running step is redrawn (PROGRESS_TICK_MS). */
    tickMs?: number;
  }) {
    this.#tickMs = options.tickMs ?? PROGRESS_TICK_MS;
    this.#chat = options.chat;
    this.#thread = options.thread;
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.#view = options.view;
    this.#milestones = options.milestones ?? {};
    this.#announced = new Set(options.announced ?? []);
    this.#said = new Set(options.announced ?? []);
    this.#onAnnounced = options.onAnnounced;
  }

  get view(): ProgressView {
    return this.#view;
  }

  #step(name: string): StepView | undefined {
    return this.#view.steps.find((s) => s.name === name);
  }

  onEvent = (event: StepEvent): void => {
    const step = this.#step(event.step);
    if (!step) return;
    switch (event.type) {
      case "skipped":
        step.state = "done";
        step.detail = "done earlier";
        break;
      case "started":
        step.state = "running";
        // The time shown counts from the first try: a retried step has been at it that long.
        if (event.attempt === 1 || step.startedAt === undefined) step.startedAt = event.at;
        // A retry keeps saying why it waits (a role still propagating) rather than "try 3".
        if (event.attempt > 1 && !step.detail) step.detail = `try ${event.attempt}`;
        break;
      case "retrying":
        step.state = "running";
        step.detail = retryDetail(event.code, event.delayMs, this.#clock.timeScale);
        break;
      case "finished": {
        step.state = "done";
        step.durationMs = event.durationMs;
        delete step.detail;
        delete step.startedAt;
        this.#announce(event);
        break;
      }
      case "failed":
        step.state = "failed";
        step.durationMs = event.durationMs;
        step.detail = event.code;
        delete step.startedAt;
        break;
    }
    this.update();
  };

  update(patch: Partial<ProgressView> = {}): void {
    Object.assign(this.#view, patch, { now: this.#clock.now(), timeScale: this.#clock.timeScale });
    const card = progressCard(this.#view);
    this.#enqueue(() => this.#chat.updateCard(this.#thread, card));
    this.#keepTicking();
  }

  /** Redraws the card every tick while a step runs; stops once none does or the run is over. */
  #keepTicking(): void {
    const running = this.#view.status === "running" && this.#view.steps.some((s) => s.state === "running");
    if (running && !this.#ticker) {
      this.#ticker = this.#clock.interval(() => this.update(), this.#tickMs);
    } else if (!running) {
      this.stop();
    }
  }

  /** Stops redrawing (the run ended, or the job is cancelled or handed to another worker). */
  stop(): void {
    this.#ticker?.();
    this.#ticker = undefined;
  }

  reply(text: string): void {
    this.#enqueue(() => this.#chat.reply(this.#thread, text));
  }

  /**
   * Says the milestones of steps an earlier attempt finished but was killed
   * before announcing: a worker that dies between a step's checkpoint and its
   * reply must not lose the reply, and one that said it must not say it twice.
   */
  catchUp(done: Readonly<Record<string, { outputs: Record<string, string>; durationMs: number }>>): void {
    for (const [name, s] of Object.entries(done)) {
      this.#announce(
        { type: "finished", step: name, durationMs: s.durationMs, outputs: s.outputs, at: 0 },
        true,
      );
    }
  }

  /**
   * Says a step's milestone once. A catch-up first reads the thread back where
   * the platform allows (Slack): the dead worker may have said it just before
   * dying, without the time to record it.
   */
  #announce(event: Extract<StepEvent, { type: "finished" }>, catchingUp = false): void {
    if (this.#announced.has(event.step)) return;
    const milestone = this.#milestones[event.step]?.(event);
    if (!milestone) return;
    this.#announced.add(event.step);
    this.#enqueue(async () => {
      const said = catchingUp && (await this.#chat.hasReply?.(this.#thread, milestone).catch(() => false));
      if (!said) await this.#chat.reply(this.#thread, milestone);
      // Record only what is out: a milestone still queued behind this one is not said yet,
      // and a worker killed now must leave it to its successor's catch-up.
      this.#said.add(event.step);
      await this.#onAnnounced?.([...this.#said]);
    });
  }

  /** Chat calls go out in order, one at a time, so a late update never overwrites a newer one. */
  #enqueue(call: () => Promise<void>): void {
    this.#pending = this.#pending.then(call).catch((error: unknown) => {
      this.#logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        "chat.update_failed",
      );
    });
  }

  /** Stops the ticking and resolves when every queued chat call has been made. */
  flush(): Promise<void> {
    this.stop();
    return this.#pending;
  }

  static initialSteps(steps: ReadonlyArray<{ name: string; label: string }>, record?: LabRecord): StepView[] {
    return steps.map((s) => {
      const finished = record?.steps?.[s.name];
      return finished
        ? { name: s.name, label: s.label, state: "done" as const, durationMs: finished.durationMs }
        : { name: s.name, label: s.label, state: "pending" as const };
    });
  }
}

/**
 * The progress of a job that has a thread of its own: opened once, in
 * `address`, and saved in the job before anything else happens, so that a
 * retried or resumed job keeps reporting in the same thread.
 */
export async function progressInJobThread(
  ctx: ProcessorContext,
  clock: Clock,
  address: ChatAddress,
  view: ProgressView,
): Promise<ProgressReporter> {
  let thread = ctx.saved.thread as ThreadRef | undefined;
  if (!thread) {
    thread = await ctx.chat.openThread(address, progressCard(view));
    await ctx.checkpoint({ thread });
  }
  return new ProgressReporter({ chat: ctx.chat, thread, logger: ctx.logger, clock, view });
}
