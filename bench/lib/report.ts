import { loadavg } from "node:os";

/**
 * How every bench speaks: one JSON object per figure on stdout (what `npm run
 * bench` collects), logs as JSON lines on stderr.
 */
export function log(msg: string, extra: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ at: new Date().toISOString(), msg, ...extra })}\n`);
}

/** Prints one figure line; `load_1m` (the machine's load average as it is printed) says how noisy it may be. */
export function out(figures: Record<string, unknown>): void {
  const load = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  process.stdout.write(`${JSON.stringify({ ...figures, load_1m: load })}\n`);
}

/** Reads a numeric setting of a bench from env (`BENCH_…`), with its default. */
export function setting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return value;
}
