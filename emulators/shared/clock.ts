/**
 * The emulated world's clock. Timestamps stay on the wall clock (so the bot and
 * the emulators agree on "now"); only durations are divided by the time scale,
 * which is what lets a six-minute AKS create finish in a fraction of a second.
 * Tests that need determinism use `manualClock` and advance it themselves.
 */
export interface EmulatorClock {
  /** Emulated durations are divided by this to get real ones (1 = Azure's own pace). */
  readonly scale: number;
  /** Milliseconds since the epoch, as a Date would give. */
  now(): number;
  /** Resolves after `emulatedMs` of emulated time; rejects with the signal's reason when aborted. */
  sleep(emulatedMs: number, signal?: AbortSignal): Promise<void>;
  /** Runs `fn` after `emulatedMs` of emulated time; returns a cancel function. */
  schedule(emulatedMs: number, fn: () => void): () => void;
}

export function scaledClock(scale = 1): EmulatorClock {
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new RangeError(`time scale must be a positive number, got ${scale}`);
  }
  const realMs = (emulatedMs: number) => Math.max(0, emulatedMs / scale);
  return {
    scale,
    now: () => Date.now(),
    sleep(emulatedMs, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        const onAbort = () => {
          clearTimeout(timer);
          reject(signal?.reason);
        };
        const timer = setTimeout(() => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        }, realMs(emulatedMs));
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
    schedule(emulatedMs, fn) {
      const timer = setTimeout(fn, realMs(emulatedMs));
      timer.unref?.();
      return () => clearTimeout(timer);
    },
  };
}

export interface ManualClock extends EmulatorClock {
  /** Moves emulated time forward, firing every timer that falls due, in order. */
  advance(emulatedMs: number): Promise<void>;
  /** Timers not yet fired. */
  pending(): number;
}

export function manualClock(startMs = Date.UTC(2026, 0, 1)): ManualClock {
  let now = startMs;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const add = (emulatedMs: number, fn: () => void) => {
    const id = seq++;
    timers.set(id, { at: now + Math.max(0, emulatedMs), fn });
    return () => {
      timers.delete(id);
    };
  };
  return {
    scale: 1,
    now: () => now,
    sleep(emulatedMs, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        const cancel = add(emulatedMs, () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        });
        const onAbort = () => {
          cancel();
          reject(signal?.reason);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
    schedule: add,
    async advance(emulatedMs) {
      const until = now + emulatedMs;
      for (;;) {
        let nextId: number | undefined;
        let next: { at: number; fn: () => void } | undefined;
        for (const [id, t] of timers) {
          if (t.at <= until && (next === undefined || t.at < next.at)) {
            nextId = id;
            next = t;
          }
        }
        if (next === undefined || nextId === undefined) break;
        timers.delete(nextId);
        now = Math.max(now, next.at);
        next.fn();
        // Let the continuation of whatever awaited this timer run before the next one fires.
        await new Promise<void>((r) => setImmediate(r));
      }
      now = until;
    },
    pending: () => timers.size,
  };
}
