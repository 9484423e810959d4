import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The layout's rules that no linter checks (docs/ARCHITECTURE.md, ADR 0007):
 * one clock, small rooms, a repository that explains itself.
 */
const root = new URL("../..", import.meta.url).pathname;

function files(dir: string, keep: (path: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      if (name === "node_modules" || name.startsWith(".")) continue;
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (keep(path)) out.push(path);
    }
  };
  walk(join(root, dir));
  return out;
}

const PRODUCT = ["src", "jobs", "adapters", "app"];
const product = PRODUCT.flatMap((d) => files(d, (p) => p.endsWith(".ts")));
const rel = (p: string) => relative(root, p);

/** Code without comments, so that a comment may name what it avoids. */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ""))
    .replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

describe("one clock", () => {
  it("no product code outside src/clock.ts reads the wall clock or sets a timer itself", () => {
    const offenders: string[] = [];
    for (const file of product) {
      if (rel(file) === "src/clock.ts" || rel(file).startsWith("app/")) continue;
      const lines = code(readFileSync(file, "utf8")).split("\n");
      lines.forEach((line, i) => {
        if (/\bDate\.now\(|\bsetTimeout\(|\bsetInterval\(/.test(line)) {
          offenders.push(`${rel(file)}:${i + 1}: ${line.trim()}`);
        }
      });
    }
    expect(offenders).toEqual([]);
  });
});

describe("small rooms", () => {
  it("no product file is longer than 450 lines", () => {
    const long = product
      .map((file) => ({ file: rel(file), lines: readFileSync(file, "utf8").split("\n").length }))
      .filter((f) => f.lines > 450);
    expect(long).toEqual([]);
  });
});

/** The old sketch's name, spelled so that this file does not match itself (a plain grep must find nothing). */
const CITATION = new RegExp(["DES", "IGN"].join(""));

describe("a repository that explains itself", () => {
  it("no file cites the design document that is not in the repository", () => {
    const text = (p: string) => /\.(ts|md|json|ya?ml|html)$/.test(p) || p.endsWith("Dockerfile");
    const all = ["src", "jobs", "adapters", "app", "emulators", "bench", "infra", "docs", "test"]
      .flatMap((d) => files(d, text))
      .concat(["README.md", "biome.json", "package.json", "Dockerfile"].map((f) => join(root, f)));
    const citing = all.filter((f) => CITATION.test(readFileSync(f, "utf8")));
    expect(citing.map(rel)).toEqual([]);
  });

  it("has docs/ARCHITECTURE.md, linked from the README, and a README in each top-level folder", () => {
    expect(readFileSync(join(root, "README.md"), "utf8")).toContain("docs/ARCHITECTURE.md");
    for (const dir of ["src", "app", "jobs", "adapters", "emulators", "test", "bench", "infra"]) {
      expect(statSync(join(root, dir, "README.md")).isFile(), dir).toBe(true);
    }
  });
});
