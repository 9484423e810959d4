import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = new URL("../..", import.meta.url).pathname;
const biome = join(root, "node_modules/.bin/biome");

/** Runs the project's own biome.json over a scratch tree and returns the diagnostics. */
function lint(files: Record<string, string>): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "labops-lint-"));
  dirs.push(dir);
  copyFileSync(join(root, "biome.json"), join(dir, "biome.json"));
  execFileSync("git", ["init", "-q"], { cwd: dir });
  writeFileSync(join(dir, ".gitignore"), "");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  try {
    const output = execFileSync(biome, ["lint", "--max-diagnostics=50", "."], {
      cwd: dir,
      encoding: "utf8",
      stdio: "pipe",
    });
    return { ok: true, output };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the src/ import boundary", () => {
  it.each([
    "@slack/bolt",
    "@slack/web-api",
    "botbuilder",
    "botframework-connector",
    "@azure/identity",
    "@azure/arm-containerservice",
    "@kubernetes/client-node",
    "bullmq",
  ])("rejects %s under src/", (sdk) => {
    const result = lint({ "src/core.ts": `import { x } from "${sdk}";\nexport const y = x;\n` });
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/noRestrictedImports/);
    expect(result.output).toMatch(/src\/ is the core/);
  });

  it.each(["@opentelemetry/api", "@opentelemetry/sdk-trace"])(
    "rejects %s under src/ and points at the Tracing port",
    (sdk) => {
      const result = lint({ "src/labs/x.ts": `import { x } from "${sdk}";\nexport const y = x;\n` });
      expect(result.ok).toBe(false);
      expect(result.output).toMatch(/noRestrictedImports/);
      expect(result.output).toMatch(/src\/ is the core: start spans through the Tracing port/);
    },
  );

  it.each([
    ["src/labs/x.ts", "../../adapters/azure/lab-azure.ts"],
    ["src/x.ts", "../jobs/worker.ts"],
    ["src/watcher/x.ts", "../../app/main.ts"],
    ["src/x.ts", "../app/workflows.ts"],
    ["src/x.ts", "ioredis"],
  ])("rejects, in %s, an import of %s (relative paths out of the core)", (file, from) => {
    const result = lint({ [file]: `import { x } from "${from}";\nexport const y = x;\n` });
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/noRestrictedImports/);
    expect(result.output).toMatch(/src\/ is the core/);
  });

  it("allows relative imports inside the core, and the composition root to import anything", () => {
    const result = lint({
      "src/labs/x.ts":
        'import { a } from "../errors.ts";\nimport { b } from "./steps.ts";\nexport const y = [a, b];\n',
      "app/x.ts":
        'import { a } from "../adapters/slack/app.ts";\nimport { b } from "../jobs/worker.ts";\nexport const y = [a, b];\n',
    });
    expect(result.output).not.toMatch(/noRestrictedImports/);
  });

  it("allows the same import in an adapter, and plain libraries in src/", () => {
    const result = lint({
      "adapters/slack/x.ts": 'import { x } from "@slack/bolt";\nexport const y = x;\n',
      "adapters/otel/x.ts": 'import { trace } from "@opentelemetry/api";\nexport const y = trace;\n',
      "src/ok.ts": 'import { z } from "zod";\nexport const y = z;\n',
    });
    expect(result.output).not.toMatch(/noRestrictedImports/);
    expect(result.ok).toBe(true);
  });
});
