import { writeFileSync } from "node:fs";
import { registerHooks } from "node:module";

/**
 * Preloaded with `node --import` by the production-build test: records the
 * URL of every module the process resolves (ES imports and require() alike)
 * and writes them to LABOPS_TRACE_FILE when the process exits, so the test
 * sees what the bot really loads rather than what a static scan guesses.
 */

const out = process.env.LABOPS_TRACE_FILE;
if (out) {
  const seen = new Set<string>();
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const result = nextResolve(specifier, context);
      seen.add(result.url);
      return result;
    },
  });
  process.on("exit", () => {
    writeFileSync(out, [...seen].join("\n"));
  });
}
