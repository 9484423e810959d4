/**
 * The chaos mode both cloud emulators share: each call fails with
 * probability `rate`; with `latencyMs`, a share of the calls (failed or not)
 * is also held back a random while first. Each emulator turns a drawn status
 * into its own error body and keeps its own counts.
 */
export interface ChaosOptions {
  rate: number;
  /** Seeds the draw so a run can be replayed; the emulator's seed (or random) when absent. */
  seed?: number;
  /** Statuses drawn from. Default [429, 500, 503]. */
  statuses?: number[];
  /** Extra latency drawn uniformly from [min, max] emulated ms (divided by the time scale). */
  latencyMs?: [number, number];
  /** Share of calls that get the extra latency; every call when absent (only with `latencyMs`). */
  latencyRate?: number;
}

export const DEFAULT_CHAOS_STATUSES: readonly number[] = [429, 500, 503];

/** Refuses options no draw could honour; `allowed` limits the statuses when an emulator can only answer some. */
export function validateChaos(options: ChaosOptions, allowed?: readonly number[]): void {
  if (!(options.rate >= 0 && options.rate <= 1)) {
    throw new RangeError(`chaos rate must be between 0 and 1, got ${options.rate}`);
  }
  for (const s of allowed ? (options.statuses ?? []) : []) {
    if (!allowed?.includes(s)) {
      throw new RangeError(`chaos statuses must be among ${allowed?.join(", ")}, got ${s}`);
    }
  }
  if (options.latencyMs !== undefined) {
    const [min, max] = options.latencyMs;
    if (!(min >= 0 && max >= min)) {
      throw new RangeError(`chaos latencyMs must be [min, max] with 0 <= min <= max, got [${min}, ${max}]`);
    }
  }
  if (options.latencyRate !== undefined && !(options.latencyRate >= 0 && options.latencyRate <= 1)) {
    throw new RangeError(`chaos latencyRate must be between 0 and 1, got ${options.latencyRate}`);
  }
}

/** What one call drew: a status to fail with, and emulated ms to wait first (0 for none). */
export interface ChaosDraw {
  status?: number;
  delayMs: number;
}

/**
 * Draws for one call, always in the same order (whether it fails, with which
 * status, then whether and how long it waits), so a seed replays a run.
 * Latency is drawn only when asked for: seeds set before latency existed
 * still replay the same run. Undefined when the call is left alone.
 */
export function drawChaos(options: ChaosOptions, source: { next(): number }): ChaosDraw | undefined {
  let status: number | undefined;
  if (source.next() < options.rate) {
    const statuses = options.statuses?.length ? options.statuses : DEFAULT_CHAOS_STATUSES;
    status = statuses[Math.floor(source.next() * statuses.length)] ?? 500;
  }
  let delayMs = 0;
  if (options.latencyMs && source.next() < (options.latencyRate ?? 1)) {
    const [min, max] = options.latencyMs;
    delayMs = min + source.next() * (max - min);
  }
  if (status === undefined && delayMs <= 0) return undefined;
  return { ...(status !== undefined ? { status } : {}), delayMs };
}
