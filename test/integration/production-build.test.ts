import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testEnv, waitFor } from "../helpers/env.ts";

/**
 * What the image runs is what CI built: this builds dist/ with the project's
 * own `npm run build`, lays it out the way the Dockerfile does (/app with
 * package.json, dist/, infra/lab/ and node_modules), starts the Dockerfile's
 * ENTRYPOINT and follows every module Node actually loads.
 */

const root = fileURLToPath(new URL("../..", import.meta.url));
const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
  packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
};
const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");

/** Packages that only tests, emulators, benchmarks or the demo may use. */
const NEVER_AT_RUNTIME = [
  "vitest",
  "playwright-core",
  "@playwright/test",
  "fast-check",
  "selfsigned",
  "jose",
  "typescript",
  "@biomejs/biome",
];

let work: string;
let app: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "labops-prod-build-"));
  app = join(work, "app");
  const build = spawnSync("npm", ["run", "build", "--", "--outDir", join(app, "dist")], {
    cwd: root,
    encoding: "utf8",
    timeout: 120_000,
  });
  if (build.status !== 0) {
    throw new Error(`npm run build failed (${build.status}):\n${build.stdout}\n${build.stderr}`);
  }
  // The Dockerfile's runtime stage: package.json (ESM), dist/, infra/lab/, node_modules.
  cpSync(join(root, "package.json"), join(app, "package.json"));
  cpSync(join(root, "infra/lab"), join(app, "infra/lab"), { recursive: true });
  symlinkSync(join(root, "node_modules"), join(app, "node_modules"), "dir");
}, 150_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Import specifiers of compiled ES modules: static, re-exports, side-effect and literal dynamic imports. */
function specifiers(js: string): string[] {
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']/gms,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const p of patterns) for (const m of js.matchAll(p)) if (m[1]) found.push(m[1]);
  return found;
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? `${parts[0]}/${parts[1]}` : (parts[0] ?? specifier);
}

/** The compiled import graph from the entry point: its files and the packages it names. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const s of specifiers(readFileSync(file, "utf8"))) {
      if (s.startsWith("node:")) continue;
      if (s.startsWith(".")) {
        const target = resolve(dirname(file), s);
        if (!existsSync(target)) throw new Error(`${relative(app, file)} imports ${s}, missing from dist/`);
        todo.push(target);
      } else {
        packages.add(packageName(s));
      }
    }
  }
  return { files, packages };
}

/** The ENTRYPOINT of the Dockerfile's last stage, in exec form. */
function entrypoint(): string[] {
  const lines = [...dockerfile.matchAll(/^ENTRYPOINT\s+(\[.*\])\s*$/gm)];
  const last = lines.at(-1)?.[1];
  if (last === undefined) throw new Error("the Dockerfile has no exec-form ENTRYPOINT");
  return JSON.parse(last) as string[];
}

describe("the Dockerfile", () => {
  it("builds on node:24 slim, installs production dependencies only and runs compiled JavaScript as a non-root user", () => {
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-[a-z]+-slim$/m);
    // Every stage starts from the one pinned ARG, so build and runtime use the same Node.
    expect(froms.every((f) => /^\$\{NODE_IMAGE\}$/.test(f ?? ""))).toBe(true);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
    expect(entrypoint()).toEqual(["node", "dist/app/main.js"]);
    const user = /^USER\s+(\d+)(?::(\d+))?\s*$/m.exec(dockerfile);
    expect(user, "USER must be numeric so that runAsNonRoot can verify it").not.toBeNull();
    expect(Number(user?.[1])).toBeGreaterThan(0);
    expect(dockerfile).toMatch(/^HEALTHCHECK\b[\s\S]*\/healthz/m);
    expect(dockerfile).toMatch(/^EXPOSE 3978$/m);
    expect(dockerfile).toMatch(/^ENV NODE_ENV=production\b/m);
    expect(dockerfile).toMatch(/LABOPS_ROLE=all\b/);
    // The lab manifests are read at run time from /app/infra/lab.
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m);
    expect(dockerfile).toMatch(/^COPY infra\/lab \.\/infra\/lab$/m);
  });
});

describe("the production build", () => {
  it("compiles only the runtime code: no emulator, test or benchmark in dist/", () => {
    const top = readdirSync(join(app, "dist")).sort();
    expect(top).toEqual(["adapters", "app", "jobs", "src"]);
    expect(existsSync(join(app, "dist/app/main.js"))).toBe(true);
  });

  it("imports, from dist/app/main.js down, only compiled runtime code and packages from `dependencies`", () => {
    const graph = importGraph(join(app, "dist/app/main.js"));
    for (const file of graph.files) {
      const path = relative(join(app, "dist"), file).split(sep);
      expect(["app", "src", "jobs", "adapters"], `${file} is outside the runtime code`).toContain(path[0]);
      expect(
        path.some((p) => ["emulators", "test", "bench"].includes(p)),
        file,
      ).toBe(false);
    }
    expect(graph.files.size).toBeGreaterThan(20);
    const packages = [...graph.packages].sort();
    for (const name of packages) {
      expect(NEVER_AT_RUNTIME, `${name} must not be imported by the bot`).not.toContain(name);
      expect(
        Object.keys(packageJson.dependencies),
        `${name} is imported by compiled code, so it must be in "dependencies" (the image installs --omit=dev)`,
      ).toContain(name);
    }
    expect(packages).toEqual(expect.arrayContaining(["@slack/bolt", "bullmq", "ioredis", "express"]));
  });

  it("finds the lab manifests where the image puts them", () => {
    const script = `import(${JSON.stringify(join(app, "dist/src/labs/manifests.js"))}).then((m) => process.stdout.write(JSON.stringify(m.placeholders("workload"))))`;
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: tmpdir(),
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual(expect.arrayContaining(["KEYVAULT_NAME", "MI_CLIENT_ID"]));
  });
});

describe("the compiled entry point", () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill("SIGKILL");
  });

  it("serves /healthz and /readyz as the web role, loads no dev-only package and exits 0 on SIGTERM", async () => {
    const trace = join(work, "loaded.txt");
    // Records every module Node resolves, through import and require alike.
    const hook = join(root, "test/helpers/trace-loads.ts");
    const [command, ...args] = entrypoint();
    expect(command).toBe("node");
    const env = {
      ...(testEnv({ LABOPS_ROLE: "web", PORT: "0" }) as Record<string, string>),
      NODE_ENV: "production",
      PATH: process.env.PATH ?? "",
      LABOPS_TRACE_FILE: trace,
    };
    const proc = spawn(process.execPath, ["--import", hook, ...args], {
      cwd: app,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    let out = "";
    let err = "";
    proc.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    proc.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((done) => proc.once("exit", (code) => done(code)));

    const port = await waitFor(
      () => /"msg":"web\.listening"/.test(out) && /"port":(\d+)/.exec(out)?.[1],
      `the compiled web role to listen (stderr: ${err})`,
      20_000,
    );
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);

    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(out).toContain('"msg":"labops.stopped"');

    const loaded = readFileSync(trace, "utf8")
      .split("\n")
      .filter((u) => u.startsWith("file:"))
      .map((u) => fileURLToPath(u));
    expect(loaded.some((f) => f.startsWith(join(app, "dist", "src")))).toBe(true);
    for (const file of loaded) {
      const inRepo = relative(root, file);
      // Application code comes from dist/ only, never from the TypeScript sources or the emulators.
      expect(inRepo.startsWith("node_modules") || inRepo.startsWith(".."), `loaded ${file}`).toBe(true);
      if (!inRepo.startsWith("node_modules")) continue;
      const key = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)/.exec(inRepo.split(sep).join("/"))?.[1] ?? inRepo;
      const entry = lock.packages[key];
      expect(entry, `${key} is loaded but not in package-lock.json`).toBeDefined();
      expect(entry?.dev, `${key} is loaded at run time but installed only for development`).not.toBe(true);
    }
  }, 60_000);
});
