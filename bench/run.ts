import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

/**
 * `npm run bench`: runs every bench/*.ts (this runner and bench/lib/ aside),
 * one after the other, each in its own process. Each prints one JSON object
 * per line on stdout, passed through as is; logs go to stderr, where this
 * runner also prints a summary table at the end. Exits non-zero when a
 * benchmark fails (a missed goal is a result, not a failure: it says so in
 * its JSON). `npm run bench -- lab queue` runs the ones whose file name
 * contains any of the words. BENCH_TIMEOUT_MS (480000) bounds each one.
 */
const dir = import.meta.dirname;
const only = process.argv.slice(2);
const timeoutMs = Number(process.env.BENCH_TIMEOUT_MS ?? 480_000);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

interface Row {
  bench: string;
  met: string;
  seconds: number;
}
const rows: Row[] = [];
const started = Date.now();
let failed = 0;
for (const file of files) {
  const t0 = Date.now();
  const name = file.replace(/\.ts$/, "");
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [join(dir, file)], { stdio: ["ignore", "pipe", "inherit"] });
    const timer = setTimeout(() => {
      process.stderr.write(`bench ${name}: no end after ${timeoutMs} ms, stopping it\n`);
      child.kill("SIGKILL");
    }, timeoutMs);
    createInterface({ input: child.stdout }).on("line", (line) => {
      process.stdout.write(`${line}\n`);
      try {
        const o = JSON.parse(line) as { bench?: string; met?: boolean };
        rows.push({ bench: String(o.bench ?? name), met: String(o.met ?? "?"), seconds: 0 });
      } catch {
        // Not a figure; passed through all the same.
      }
    });
    child.on("exit", (c, signal) => {
      clearTimeout(timer);
      resolve(c ?? (signal ? 1 : 0));
    });
  });
  for (const row of rows) if (row.seconds === 0) row.seconds = Math.round((Date.now() - t0) / 1000);
  if (code !== 0) {
    failed += 1;
    process.stdout.write(`${JSON.stringify({ bench: name, error: `exited with ${code}` })}\n`);
    rows.push({ bench: name, met: `error (exit ${code})`, seconds: Math.round((Date.now() - t0) / 1000) });
  }
}
const width = Math.max(5, ...rows.map((r) => r.bench.length));
process.stderr.write(`\n${"bench".padEnd(width)}  met    file seconds\n`);
for (const r of rows) process.stderr.write(`${r.bench.padEnd(width)}  ${r.met.padEnd(5)}  ${r.seconds}\n`);
process.stderr.write(`total ${Math.round((Date.now() - started) / 1000)} s\n`);
process.exit(failed > 0 ? 1 : 0);
