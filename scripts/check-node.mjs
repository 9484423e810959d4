// Runs before every entry point (npm start, demo, emulators, test, bench: their
// pre* scripts) and from vitest.config.ts. labops' entry points are .ts files
// run by Node's own type stripping, which older Nodes cannot load: they would
// fail with ERR_UNKNOWN_FILE_EXTENSION instead of naming the real problem.
// Plain ES2020 on purpose: it must run on any Node a newcomer may have.
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const wanted = String(pkg.engines?.node || ">=22.19").replace(/^>=\s*/, "");

/** True when version a (e.g. "20.20.2") is at least b (e.g. "22.19"). */
export function atLeast(a, b) {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const p = x[i] || 0;
    const q = y[i] || 0;
    if (p !== q) return p > q;
  }
  return true;
}

/** The one line that says what is wrong and how to get Node 24; undefined when `version` will do. */
export function nodeProblem(version) {
  if (atLeast(version, wanted)) return undefined;
  return (
    `labops needs Node.js ${wanted} or newer (Node 24 recommended); this is Node ${version}. ` +
    "Get Node 24 beside the system one: npm install --prefix .tools/node24 node@24 && " +
    'export PATH="$PWD/.tools/node24/node_modules/.bin:$PATH"'
  );
}

const problem = nodeProblem(process.versions.node);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
