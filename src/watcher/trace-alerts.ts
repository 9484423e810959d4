import { errorCode } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ChatAddress, ChatPort, ThreadRef } from "../ports/chat.ts";
import type { Metrics } from "../ports/metrics.ts";
import type { Tracing } from "../ports/tracing.ts";
import type { RotationThread, RotationThreads } from "../ports/watcher.ts";
import { type AlertOutbox, type Said, WAIT } from "./alert-outbox.ts";
import {
  completionCard,
  completionSummary,
  finishedCommandCard,
  givenUpText,
  stuckCard,
  stuckCommandCard,
  stuckText,
  supersededText,
} from "./alerts.ts";
import type { WatcherSettings } from "./settings.ts";
import type { StuckReport } from "./stuck.ts";
import type { TraceState } from "./trace.ts";
import { type AlertKind, rotationSpans } from "./trace-spans.ts";

/**
 * What a trace says, and where: in the rotate command's thread when labops
 * wrote the version (waiting threadGraceMs for it, since the command opens
 * it after writing), else in the trace's own alert thread, opened by its
 * first alert. Each goes out through the outbox, so it is said once.
 */

export interface TraceAlertsDeps {
  lab: string;
  address: ChatAddress;
  chat: ChatPort;
  threads: RotationThreads;
  outbox: AlertOutbox;
  metrics: Metrics;
  settings: WatcherSettings;
  log: Logger;
  /** One trace per rotation, ended by the alert that says how it went (trace-spans.ts). */
  tracing?: Tracing;
}

export class TraceAlerts {
  readonly #d: TraceAlertsDeps;

  constructor(deps: TraceAlertsDeps) {
    this.#d = deps;
  }

  /** The rotate command's thread of a version, if one was registered (undefined when unreadable). */
  async findThread(secret: string, version: string): Promise<RotationThread | undefined> {
    try {
      return await this.#d.threads.find(this.#d.lab, secret, version);
    } catch (error) {
      this.#d.log.warn({ code: errorCode(error) }, "watcher.thread_lookup_failed");
      return undefined;
    }
  }

  /**
   * The rotate command's thread for a version labops wrote; WAIT while it
   * may still be on its way, undefined when there is none to wait for.
   */
  async #commandThread(trace: TraceState, now: number): Promise<RotationThread | typeof WAIT | undefined> {
    if (!trace.changedBy) return undefined;
    const found = await this.findThread(trace.secret, trace.version);
    if (found) return found;
    return trace.correlationId && now - trace.setAt < this.#d.settings.threadGraceMs ? WAIT : undefined;
  }

  /**
   * Says an alert through `send` inside the rotation's spans when tracing is
   * on; they are kept only when this call said it (see trace-spans.ts).
   */
  async #traced(
    trace: TraceState,
    kind: AlertKind,
    send: () => Promise<Said | undefined>,
  ): Promise<(Said & { rotationTrace?: Record<string, string> }) | undefined> {
    const tracing = this.#d.tracing;
    if (!tracing?.enabled) return send();
    const registered = trace.changedBy ? await this.findThread(trace.secret, trace.version) : undefined;
    const spans = rotationSpans(tracing, trace, kind, registered?.trace);
    try {
      const said = await spans.run(send);
      if (!said?.postedNow) return said;
      spans.said(registered ? "command thread" : trace.thread ? "alert thread" : "channel");
      return spans.carrier ? { ...said, rotationTrace: spans.carrier } : said;
    } catch (error) {
      spans.failed(error);
      throw error;
    }
  }

  /** True once the completion is said (now or by an earlier owner). */
  async completed(trace: TraceState, now: number): Promise<boolean> {
    const { chat, metrics, lab } = this.#d;
    const said = await this.#traced(trace, "completed", () =>
      this.#d.outbox.send(`${trace.id}:done`, now, async () => {
        const registered = await this.#commandThread(trace, now);
        if (registered === WAIT) return WAIT;
        const ctx = { lab, ...(registered ? { byName: registered.by } : {}) };
        if (registered) {
          await chat.reply(registered.thread, `${completionSummary(trace)}.`);
          await chat.updateCard(registered.thread, finishedCommandCard(registered.card, trace, ctx));
          return registered.thread;
        }
        if (trace.thread) {
          await chat.reply(trace.thread, `Recovered: ${completionSummary(trace)}.`);
          await chat.updateCard(trace.thread, completionCard(trace, ctx));
          return trace.thread;
        }
        return chat.postAlert(this.#d.address, completionCard(trace, ctx));
      }),
    );
    if (!said) return false;
    if (said.postedNow) {
      metrics.alertPosted("rotation");
      metrics.rotationFinished("completed");
      this.#d.log.info(
        {
          secretName: trace.secret,
          version: trace.version.slice(0, 8),
          tookMs: (trace.completedAt ?? now) - trace.setAt,
        },
        "watcher.rotation_completed",
      );
    }
    return true;
  }

  /** The trace marked as alerted for the report's hop once said (now or earlier); undefined until then. */
  async stuck(trace: TraceState, report: StuckReport, now: number): Promise<TraceState | undefined> {
    const { chat, metrics, lab } = this.#d;
    const id = `${trace.id}:stuck:${report.hop}`;
    const said = await this.#traced(trace, "stuck", () =>
      this.#d.outbox.send(id, now, async (): Promise<ThreadRef | typeof WAIT> => {
        const registered = await this.#commandThread(trace, now);
        if (registered === WAIT) return WAIT;
        const ctx = { lab, ...(registered ? { byName: registered.by } : {}) };
        if (registered) {
          await chat.reply(registered.thread, `Stuck: ${stuckText(trace, report, now)}`);
          await chat.updateCard(registered.thread, stuckCommandCard(registered.card, trace, report, now));
          return registered.thread;
        }
        if (trace.thread) {
          await chat.reply(trace.thread, `Stuck again: ${stuckText(trace, report, now)}`);
          await chat.updateCard(trace.thread, stuckCard(trace, report, ctx, now));
          return trace.thread;
        }
        return chat.postAlert(this.#d.address, stuckCard(trace, report, ctx, now));
      }),
    );
    if (!said) return undefined;
    if (said.postedNow) {
      metrics.alertPosted("stuck");
      if (trace.stuckAlerted === undefined) metrics.rotationFinished("stuck");
      this.#d.log.warn(
        { secretName: trace.secret, hop: report.hop, cause: report.cause },
        "watcher.rotation_stuck",
      );
    }
    return {
      ...trace,
      stuckAlerted: report.hop,
      ...(said.thread ? { thread: said.thread } : {}),
      ...(said.rotationTrace ? { rotationTrace: said.rotationTrace } : {}),
    };
  }

  /** A last word in the trace's thread, if it has one: a newer version replaced it. */
  async superseded(trace: TraceState, by: string, now: number): Promise<void> {
    const registered = trace.changedBy ? await this.findThread(trace.secret, trace.version) : undefined;
    const thread = registered?.thread ?? trace.thread;
    if (!thread) return;
    const { chat } = this.#d;
    const post = async () => {
      const text = supersededText(trace, by);
      await chat.reply(thread, text);
      if (registered) await chat.updateCard(thread, { ...registered.card, status: "info", text });
      return thread;
    };
    const superseded = { ...trace, supersededBy: by };
    await this.#traced(superseded, "superseded", () =>
      this.#d.outbox.send(`${trace.id}:superseded`, now, post, { once: true }),
    );
  }

  /** A last word in the trace's thread, if it has one: labops stops following it. */
  async givenUp(trace: TraceState, now: number): Promise<void> {
    const thread = trace.thread;
    if (!thread) return;
    const post = async () => {
      await this.#d.chat.reply(thread, givenUpText(trace, now));
      return thread;
    };
    await this.#d.outbox.send(`${trace.id}:given_up`, now, post, { once: true });
  }
}
