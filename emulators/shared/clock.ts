/**
 * The emulated world's clock. `scaledClock` keeps wall-clock timestamps and
 * divides durations by the time scale, which is what lets a six-minute AKS
 * create finish in a fraction of a second; the Azure emulator runs on it (the
 * bot compares a vault version's `created` with its own clock, see
 * emulators/README.md). `emulatedTimeline` reads the same clock in emulated
 * time, for a world whose timestamps must keep Azure's durations (the AKS
 * emulator). Tests that need determinism use `manualClock` and advance it
 * themselves.
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

/**
 * The same clock read in emulated time: from `origin` (by default the moment
 * it is made) its `now()` advances `scale` times faster than the clock it
 * wraps, so that two readings taken 30 emulated seconds apart are 30 000 ms
 * apart whatever the time scale. Waits are unchanged (they were emulated
 * already). Every controller, the kubelet, the event recorder and the
 * timestamps the AKS emulator's API returns read one such clock, so a
 * deadline like `progressDeadlineSeconds` is measured in the same time as the
 * waits that lead to it. A clock at scale 1 is returned as it is.
 */
export function emulatedTimeline(base: EmulatorClock, origin = base.now()): EmulatorClock {
  if (base.scale === 1) return base;
  return {
    scale: base.scale,
    now: () => origin + (base.now() - origin) * base.scale,
    sleep: (emulatedMs, signal) => base.sleep(emulatedMs, signal),
    schedule: (emulatedMs, fn) => base.schedule(emulatedMs, fn),
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
