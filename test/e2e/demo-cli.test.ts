import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { REDIS_URL, waitFor } from "../helpers/env.ts";

const root = new URL("../..", import.meta.url).pathname;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function run(args: string[], env: Record<string, string> = { PATH: process.env.PATH ?? "", REDIS_URL }) {
  const child = spawn(process.execPath, ["emulators/demo/main.ts", ...args], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => out, exited };
}

describe("npm run demo", () => {
  it("runs a script headless, prints the conversation and exits 0 when every command ended well", {
    timeout: 180_000,
  }, async () => {
    const demo = run([
      "--time-scale",
      "100",
      "--script",
      "lab create team-a; secret rotate color orange --lab team-a; lab destroy team-a --yes",
    ]);
    expect(await demo.exited).toBe(0);
    const out = demo.output();
    expect(out).toMatch(/labops: :white_check_mark: \*Lab team-a is ready/);
    expect(out).toMatch(/ok {3}secret rotate color orange --lab team-a \(succeeded\)/);
    expect(out).toMatch(/ok {3}lab destroy team-a --yes \(succeeded\)/);
    expect(out).toContain("All commands ended well.");
    const pid = Number(/Bot: pid (\d+)/.exec(out)?.[1]);
    expect(alive(pid)).toBe(false);
  });

  it("exits non-zero when a command does not end well", { timeout: 120_000 }, async () => {
    const demo = run(["--time-scale", "100", "--script", "lab status no-such-lab"]);
    expect(await demo.exited).toBe(1);
    expect(demo.output()).toMatch(/FAIL lab status no-such-lab/);
  });

  it("prints the page's address and stops cleanly on Ctrl-C, leaving no process behind", {
    timeout: 120_000,
  }, async () => {
    const demo = run(["--time-scale", "100"]);
    const url = await waitFor(
      () => /Open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(demo.output())?.[1],
      "the page URL",
      60_000,
    );
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("# platform");
    const pid = Number(/Bot: pid (\d+)/.exec(demo.output())?.[1]);
    expect(alive(pid)).toBe(true);
    demo.child.kill("SIGINT");
    expect(await demo.exited).toBe(0);
    expect(alive(pid)).toBe(false);
    await expect(fetch(url)).rejects.toThrow();
  });

  it("starts a private redis-server when REDIS_URL does not answer, and stops it afterwards", {
    timeout: 120_000,
  }, async () => {
    const demo = run(["--time-scale", "100", "--script", "lab list"], {
      PATH: process.env.PATH ?? "",
      REDIS_URL: "redis://127.0.0.1:1",
    });
    expect(await demo.exited).toBe(0);
    expect(demo.output()).toMatch(/Redis: a private redis-server at redis:\/\/127\.0\.0\.1:(\d+)/);
    const port = Number(/a private redis-server at redis:\/\/127\.0\.0\.1:(\d+)/.exec(demo.output())?.[1]);
    const { redisAnswers } = await import("../../emulators/demo/redis.ts");
    expect(await redisAnswers(`redis://127.0.0.1:${port}`)).toBe(false);
  });

  it("says how to get a Redis when there is none to use or start", { timeout: 60_000 }, async () => {
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const empty = mkdtempSync(`${tmpdir()}/no-redis-`);
    const demo = run(["--script", "lab list"], { PATH: empty, REDIS_URL: "redis://127.0.0.1:1" });
    expect(await demo.exited).toBe(1);
    expect(demo.output()).toMatch(/redis-server is not on PATH/);
    expect(demo.output()).toMatch(/apt-get install redis-server/);
  });
});
