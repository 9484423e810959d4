import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * `npm run bench`: runs every bench/*.ts (this runner and bench/lib/ aside),
 * one after the other, each in its own process. Each prints one JSON object
 * per line on stdout, passed through as is; logs go to stderr. Exits non-zero
 * when a benchmark fails (a missed goal is a result, not a failure: it says
 * so in its JSON).
 */
const dir = import.meta.dirname;
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

let failed = 0;
for (const file of files) {
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [join(dir, file)], { stdio: ["ignore", "inherit", "inherit"] });
    child.on("exit", (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  if (code !== 0) {
    failed += 1;
    process.stdout.write(
      `${JSON.stringify({ bench: file.replace(/\.ts$/, ""), error: `exited with ${code}` })}\n`,
    );
  }
}
process.exit(failed > 0 ? 1 : 0);
