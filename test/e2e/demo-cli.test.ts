import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { dirname } from "node:path";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { redisAnswers } from "../../emulators/demo/redis.ts";
import { REDIS_URL, waitFor } from "../helpers/env.ts";

const root = new URL("../..", import.meta.url).pathname;
const NO_REDIS = "redis://127.0.0.1:1";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Run {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function watch(child: ChildProcess): Run {
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => out, exited };
}

function run(args: string[], env: Record<string, string> = { PATH: process.env.PATH ?? "", REDIS_URL }): Run {
  return watch(
    spawn(process.execPath, ["emulators/demo/main.ts", ...args], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
}

/** `npm run demo …`, as a newcomer types it. */
function npmRun(args: string[], env: Record<string, string>): Run {
  return watch(
    spawn("npm", ["run", "--silent", "demo", ...args], {
      cwd: root,
      env: { ...env, HOME: process.env.HOME ?? "/tmp" },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
}

const pidOf = (out: string, what: "Bot" | "Demo") => Number(new RegExp(`${what}: pid (\\d+)`).exec(out)?.[1]);
const logDirOf = (out: string) => dirname(/, log (\S+\/bot\.log)/.exec(out)?.[1] ?? "/nonexistent/bot.log");

/** Whether something accepts a TCP connection at host:port. */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("npm run demo", () => {
  it("runs a script headless: readable text, progress while waiting, a summary; exits 0 and leaves nothing behind", {
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
    // The create card followed its lab to the end (issue 17, item 6): the channel shows it destroyed.
    expect(out).toMatch(/^labops: Lab team-a: destroyed \[cancelled\]$/m);
    expect(out).toMatch(/^ok {3}lab create team-a \(succeeded\) — Lab team-a is ready \(\d+s\)$/m);
    expect(out).toMatch(/^ {2}… +\d+s {2}\d+\/12 steps done · running: /m);
    expect(out).toMatch(/ok {3}secret rotate color orange --lab team-a \(succeeded\)/);
    expect(out).toMatch(/ok {3}lab destroy team-a --yes \(succeeded\) — Lab team-a is destroyed/);
    expect(out).toContain("All commands ended well.");
    // Readable in a terminal: no Slack markup, no line over 100 characters.
    expect(out).not.toMatch(/<@U|:white_check_mark:|:x:|\*Lab|`/);
    expect(out.split("\n").filter((l) => l.length > 100)).toEqual([]);
    const pid = pidOf(out, "Bot");
    expect(alive(pid)).toBe(false);
    // Nothing left behind: its Redis keys and its temp folder.
    const prefix = /keys under (demo-[0-9a-f]+):/.exec(out)?.[1];
    expect(prefix).toBeDefined();
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.keys(`${prefix}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
    expect(existsSync(logDirOf(out))).toBe(false);
  });

  it("exits non-zero when a command does not end well, and says why", { timeout: 120_000 }, async () => {
    const demo = run(["--time-scale", "100", "--script", "lab status no-such-lab; lab extend gone"]);
    expect(await demo.exited).toBe(1);
    const out = demo.output();
    // Answered at intake now: a command about a lab that does not exist is refused, never queued.
    expect(out).toMatch(/FAIL lab status no-such-lab \(refused\): There is no lab "no-such-lab"/);
    expect(out).toMatch(/FAIL lab extend gone \(refused\): There is no lab "gone"/);
    expect(out).toMatch(/Some commands did not end well \(2 of 2\); the reasons are above\./);
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
    expect((await fetch(new URL("/favicon.ico", url))).status).toBe(200);
    const pid = pidOf(demo.output(), "Bot");
    expect(alive(pid)).toBe(true);
    // The bot listens on loopback only, as everything else the demo starts.
    const port = Number(/Bot: pid \d+ at http:\/\/127\.0\.0\.1:(\d+)/.exec(demo.output())?.[1]);
    expect(await listening("127.0.0.1", port)).toBe(true);
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
    if (outside) expect(await listening(outside, port)).toBe(false);
    demo.child.kill("SIGINT");
    expect(await demo.exited).toBe(0);
    expect(demo.output()).toMatch(/\nStopping… \(Ctrl-C again to force\)\n/);
    expect(alive(pid)).toBe(false);
    await expect(fetch(url)).rejects.toThrow();
  });

  it("started through npm, stops everything on a SIGINT to the npm process", {
    timeout: 120_000,
  }, async () => {
    const npm = npmRun(["--", "--time-scale", "100"], { PATH: process.env.PATH ?? "", REDIS_URL: NO_REDIS });
    const url = await waitFor(
      () => /Open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(npm.output())?.[1],
      "the page URL",
      60_000,
    );
    const out = npm.output();
    const pids = {
      demo: pidOf(out, "Demo"),
      bot: pidOf(out, "Bot"),
      redis: Number(/a private redis-server at \S+ \(pid (\d+)\)/.exec(out)?.[1]),
    };
    for (const [what, pid] of Object.entries(pids)) expect(alive(pid), what).toBe(true);
    npm.child.kill("SIGINT");
    expect(await npm.exited).toBe(0);
    for (const [what, pid] of Object.entries(pids)) {
      await waitFor(() => !alive(pid) || undefined, `${what} (pid ${pid}) to stop`, 10_000);
    }
    await expect(fetch(url)).rejects.toThrow();
    expect(existsSync(logDirOf(out))).toBe(false);
  });

  it("says 'Stopping… waiting for <step>' on Ctrl-C during a job, and forces on a second one", {
    timeout: 120_000,
  }, async () => {
    // Slow enough that the cluster step is still running when the signal comes.
    const demo = run(["--time-scale", "10", "--script", "lab create team-z"]);
    await waitFor(
      () => /running: AKS cluster/.test(demo.output()) || undefined,
      "the cluster step to run",
      60_000,
    );
    const bot = pidOf(demo.output(), "Bot");
    demo.child.kill("SIGINT");
    await waitFor(
      () =>
        /\nStopping… waiting for [^\n]*AKS cluster with workload identity and the Key Vault CSI addon[^\n]* to finish \(Ctrl-C again to force\)\n/.test(
          demo.output(),
        ) || undefined,
      "the stopping line",
      5_000,
    );
    expect(alive(bot)).toBe(true); // the step is being let finish
    const forcedAt = Date.now();
    demo.child.kill("SIGINT");
    await demo.exited;
    expect(Date.now() - forcedAt).toBeLessThan(10_000);
    expect(demo.output()).toContain("Forcing: the bot is killed mid-step");
    expect(alive(bot)).toBe(false);
  });

  it("tells whoever forgot the -- after npm run demo to add it", { timeout: 60_000 }, async () => {
    const npm = npmRun(["--time-scale", "100"], { PATH: process.env.PATH ?? "", REDIS_URL });
    expect(await npm.exited).not.toBe(0);
    expect(npm.output()).toMatch(
      /npm kept --time-scale for itself: add -- after "npm run demo", e\.g\. npm run demo -- --script "lab list"/,
    );
    expect(npm.output()).not.toContain("Starting the emulated world");
  });

  it("starts a private redis-server when REDIS_URL does not answer, and stops it afterwards", {
    timeout: 120_000,
  }, async () => {
    const demo = run(["--time-scale", "100", "--script", "lab list"], {
      PATH: process.env.PATH ?? "",
      REDIS_URL: NO_REDIS,
    });
    expect(await demo.exited).toBe(0);
    expect(demo.output()).toMatch(/Redis: a private redis-server at redis:\/\/127\.0\.0\.1:(\d+)/);
    const port = Number(/a private redis-server at redis:\/\/127\.0\.0\.1:(\d+)/.exec(demo.output())?.[1]);
    expect(await redisAnswers(`redis://127.0.0.1:${port}`)).toBe(false);
  });

  it("says how to get a Redis when there is none to use or start", { timeout: 60_000 }, async () => {
    const empty = mkdtempSync(`${tmpdir()}/no-redis-`);
    try {
      const demo = run(["--script", "lab list"], { PATH: empty, REDIS_URL: NO_REDIS });
      expect(await demo.exited).toBe(1);
      expect(demo.output()).toMatch(/redis-server is not on PATH/);
      expect(demo.output()).toMatch(/apt-get install redis-server/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
