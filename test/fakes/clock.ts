import { type Cancel, type Clock, sleepOn } from "../../src/clock.ts";

/**
 * A Clock that moves only when the test says so. `advance(ms)` fires every
 * timer due within `ms`, in due order, letting the promise jobs each one
 * starts settle before the next fires, so code that awaits between timers
 * behaves as it would in real time.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers = new Map<number, { at: number; fn: () => void; every?: number }>();
  readonly timeScale: number;

  constructor(options: { now?: number; timeScale?: number } = {}) {
    this.#now = options.now ?? Date.UTC(2026, 11, 1, 9, 0, 0);
    this.timeScale = options.timeScale ?? 1;
  }

  now(): number {
    return this.#now;
  }

  scaled(ms: number): number {
    return ms / this.timeScale;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(ms, signal, (fn, wait) => this.timeout(fn, wait));
  }

  timeout(fn: () => void, ms: number): Cancel {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return () => this.#timers.delete(id);
  }

  interval(fn: () => void, ms: number): Cancel {
    const id = ++this.#seq;
    const every = Math.max(1, ms);
    this.#timers.set(id, { at: this.#now + every, fn, every });
    return () => this.#timers.delete(id);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing what falls due on the way. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    for (;;) {
      await settle();
      let next: [number, { at: number; fn: () => void; every?: number }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= until && (!next || entry[1].at < next[1].at)) next = entry;
      }
      if (!next) break;
      const [id, timer] = next;
      this.#now = Math.max(this.#now, timer.at);
      if (timer.every) timer.at += timer.every;
      else this.#timers.delete(id);
      timer.fn();
    }
    this.#now = until;
    await settle();
  }

  /** Sets the time without firing anything (a jump of the wall clock). */
  set(now: number): void {
    this.#now = now;
  }
}

/** Lets pending promise jobs run: a few macrotask turns, so chains of awaits complete. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
