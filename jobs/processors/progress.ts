import { formatElapsed, type ProgressView, progressCard, type StepView } from "../../src/labs/cards.ts";
import type { Logger } from "../../src/log.ts";
import type { ChatPort, ThreadRef } from "../../src/ports/chat.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import type { StepEvent } from "../step-runner.ts";

/**
 * Turns step events into the thread's status card and milestone replies.
 * Card updates go out as they happen; the chat layer coalesces them to what
 * Slack and Teams allow, keeping the latest. A failed chat call never fails
 * the lab: progress is a view, the registry is the truth.
 */
export class ProgressReporter {
  readonly #chat: ChatPort;
  readonly #thread: ThreadRef;
  readonly #logger: Logger;
  readonly #view: ProgressView;
  readonly #milestones: Record<string, (e: Extract<StepEvent, { type: "finished" }>) => string | undefined>;
  #pending: Promise<void> = Promise.resolve();

  constructor(options: {
    chat: ChatPort;
    thread: ThreadRef;
    logger: Logger;
    view: ProgressView;
    milestones?: Record<string, (e: Extract<StepEvent, { type: "finished" }>) => string | undefined>;
  }) {
    this.#chat = options.chat;
    this.#thread = options.thread;
    this.#logger = options.logger;
    this.#view = options.view;
    this.#milestones = options.milestones ?? {};
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
        if (event.attempt > 1) step.detail = `try ${event.attempt}`;
        break;
      case "retrying":
        step.state = "running";
        step.detail = `${event.code}, retrying in ${formatElapsed(event.delayMs)}`;
        break;
      case "finished": {
        step.state = "done";
        step.durationMs = event.durationMs;
        delete step.detail;
        const milestone = this.#milestones[event.step]?.(event);
        if (milestone) this.reply(milestone);
        break;
      }
      case "failed":
        step.state = "failed";
        step.durationMs = event.durationMs;
        step.detail = event.code;
        break;
    }
    this.update();
  };

  update(patch: Partial<ProgressView> = {}): void {
    Object.assign(this.#view, patch, { now: Date.now() });
    const card = progressCard(this.#view);
    this.#enqueue(() => this.#chat.updateCard(this.#thread, card));
  }

  reply(text: string): void {
    this.#enqueue(() => this.#chat.reply(this.#thread, text));
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

  /** Resolves when every queued chat call has been made. */
  flush(): Promise<void> {
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
