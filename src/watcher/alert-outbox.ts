import { errorCode } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ThreadRef } from "../ports/chat.ts";
import type { WatchStateStore } from "../ports/watcher.ts";
import { retryDelay, type WatcherSettings } from "./settings.ts";

/**
 * Every alert of a lab watcher (a completion, a stuck hop, a superseded or
 * given-up trace, a restart report) goes out the same way: claimed in the
 * store under its id (fenced by the lease), posted, then marked posted with
 * the thread it went to. A successor replica that finds it claimed and
 * posted learns the thread instead of posting again; one that finds it
 * claimed but not posted (the owner died between the two) posts it.
 *
 * A post that fails is tried again with back-off, up to ALERT_ATTEMPTS,
 * then dropped (marked posted with no thread) so that a chat that keeps
 * refusing does not keep a trace open for ever.
 */

/** The lease went to another replica while this one was working: stop, say nothing more. */
export class LeaseLostError extends Error {
  constructor(lab: string) {
    super(`lease on ${lab} lost`);
    this.name = "LeaseLostError";
  }
}

/** Tries per alert before it is dropped (with back-off between them, minutes in all). */
const ALERT_ATTEMPTS = 8;

/** What a post returns when it cannot go yet (not a failure: nothing is counted). */
export const WAIT = "wait";

/** An alert that is said: where (undefined when it was dropped), and whether this call posted it. */
export interface Said {
  thread: ThreadRef | undefined;
  postedNow: boolean;
}

export interface SendOptions {
  /** A last word: tried once, and a failure is only logged (its trace is gone either way). */
  once?: boolean;
}

export interface AlertOutboxDeps {
  lab: string;
  holder: string;
  store: WatchStateStore;
  settings: WatcherSettings;
  random: () => number;
  log: Logger;
}

export class AlertOutbox {
  readonly #d: AlertOutboxDeps;
  /** Alert ids whose post failed, and when to try again. */
  readonly #retryAt = new Map<string, { at: number; attempts: number }>();

  constructor(deps: AlertOutboxDeps) {
    this.#d = deps;
  }

  /**
   * Claims alert `id`, posts it with `post` (which returns the thread it went
   * to, or WAIT to try again later) and marks it posted. Undefined while it is
   * not said: not due again yet, waiting, or failed (tried again later).
   */
  async send(
    id: string,
    now: number,
    post: () => Promise<ThreadRef | typeof WAIT>,
    options: SendOptions = {},
  ): Promise<Said | undefined> {
    const { lab, holder, store, log } = this.#d;
    const retry = this.#retryAt.get(id);
    if (retry !== undefined && now < retry.at) return undefined;
    const claim = await store.claimAlert(lab, id, holder);
    if (claim.outcome === "lease_lost") throw new LeaseLostError(lab);
    if (claim.outcome === "posted") return { thread: claim.thread, postedNow: false };
    if (retry !== undefined && retry.attempts >= ALERT_ATTEMPTS) {
      // The chat keeps refusing (channel archived, bot removed): stop trying, and say so in the logs.
      log.error({ alert: id, attempts: retry.attempts }, "watcher.alert_dropped");
      await store.markPosted(lab, id, undefined);
      this.#retryAt.delete(id);
      return { thread: undefined, postedNow: false };
    }
    try {
      const thread = await post();
      if (thread === WAIT) return undefined;
      await store.markPosted(lab, id, thread);
      this.#retryAt.delete(id);
      return { thread, postedNow: true };
    } catch (error) {
      if (options.once) {
        log.warn({ alert: id, code: errorCode(error) }, "watcher.alert_failed");
        return undefined;
      }
      const attempts = (retry?.attempts ?? 0) + 1;
      const wait = retryDelay(this.#d.settings, attempts, this.#d.random);
      this.#retryAt.set(id, { at: now + wait, attempts });
      log.warn({ alert: id, code: errorCode(error), attempts, retryInMs: wait }, "watcher.alert_failed");
      return undefined;
    }
  }
}
