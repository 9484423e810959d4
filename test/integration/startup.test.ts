import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { testEnv } from "../helpers/env.ts";

const root = new URL("../..", import.meta.url).pathname;

describe("npm start configuration errors", () => {
  it("stops with one clear error and a non-zero exit when SLACK_SIGNING_SECRET is missing", () => {
    const base = testEnv({ SLACK_SIGNING_SECRET: undefined });
    const env: Record<string, string | undefined> = { ...base, PATH: process.env.PATH ?? "" };
    const result = spawnSync(process.execPath, ["app/main.ts"], {
      cwd: root,
      env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv,
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).not.toBe(0);
    expect(result.status).not.toBeNull();
    expect(result.stderr.trim()).toMatch(
      /^labops cannot start: 1 setting needs attention\.\n {2}- SLACK_SIGNING_SECRET: is missing/,
    );
    expect(result.stderr).not.toContain(String(base.SLACK_BOT_TOKEN));
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(result.stdout).toBe("");
  });
});

describe("npm start with no Redis to reach", () => {
  it("ends with one message naming the URL (without its password) and what to check", () => {
    const env = testEnv({ REDIS_URL: "redis://:pw-canary@127.0.0.1:1", LABOPS_ROLE: "worker" });
    const result = spawnSync(process.execPath, ["app/main.ts"], {
      cwd: root,
      env: { ...(env as Record<string, string>), PATH: process.env.PATH ?? "" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toMatch(
      /^labops cannot start: no Redis answered at redis:\/\/:\*\*\*@127\.0\.0\.1:1 \(REDIS_URL\) within 10 s\. Check that Redis is running there/,
    );
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).not.toContain("pw-canary");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 40_000);
});

/** The system Node, when it is one the project does not run on (Debian's Node 20 here). */
const OLD_NODE = (() => {
  const found = spawnSync("/usr/bin/node", ["-p", "process.versions.node"], { encoding: "utf8" });
  if (found.status !== 0) return undefined;
  const [major = 0, minor = 0] = found.stdout.trim().split(".").map(Number);
  return major < 22 || (major === 22 && minor < 19) ? found.stdout.trim() : undefined;
})();

describe.skipIf(OLD_NODE === undefined)(`an old Node (/usr/bin/node ${OLD_NODE ?? "absent"})`, () => {
  const oneLine = (version: string) =>
    new RegExp(
      `^labops needs Node\\.js 22\\.19 or newer \\(Node 24 recommended\\); this is Node ${version.replace(/\./g, "\\.")}\\. Get Node 24 beside the system one: npm install --prefix \\.tools/node24 node@24`,
      "m",
    );

  it("is named in one line by every npm entry point, which exits non-zero", () => {
    for (const args of [["run", "demo"], ["start"], ["test"], ["run", "emulators"], ["run", "bench"]]) {
      const result = spawnSync("npm", ["--silent", ...args], {
        cwd: root,
        // /usr/bin first: npm and node are the system's.
        env: { PATH: `/usr/bin:/bin`, HOME: process.env.HOME ?? "/tmp" },
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(result.status, args.join(" ")).not.toBe(0);
      const lines = result.stderr.split("\n").filter((l) => l.startsWith("labops"));
      expect(lines, args.join(" ")).toHaveLength(1);
      expect(lines[0]).toMatch(oneLine(OLD_NODE ?? ""));
      expect(result.stderr + result.stdout).not.toContain("ERR_UNKNOWN_FILE_EXTENSION");
    }
  }, 120_000);

  it("stops vitest before a single test runs", () => {
    const result = spawnSync(
      "/usr/bin/node",
      ["node_modules/vitest/vitest.mjs", "run", "test/unit/config.test.ts"],
      {
        cwd: root,
        env: { PATH: "/usr/bin:/bin" },
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(oneLine(OLD_NODE ?? ""));
    expect(result.stdout).not.toMatch(/Tests\s+\d+ passed/);
  }, 70_000);
});

/** How long a spawned labops may take to load before it says anything (module loading under CI load). */
const STARTUP_MS = 40_000;

describe("SIGTERM", () => {
  it("stops taking work, drains the worker and exits 0 with nothing left active", {
    timeout: 90_000,
  }, async () => {
    const { spawn } = await import("node:child_process");
    const { Queue } = await import("bullmq");
    const { Redis } = await import("ioredis");
    const { startSlackWebApi } = await import("../../emulators/slack/web-api.ts");
    const { SlackRequestClient } = await import("../../emulators/slack/client.ts");
    const { COMMANDS_QUEUE } = await import("../../jobs/queue.ts");
    const { REDIS_URL, TEST_BOT_TOKEN, TEST_SIGNING_SECRET, waitFor } = await import("../helpers/env.ts");
    const slackApi = await startSlackWebApi({ botToken: TEST_BOT_TOKEN });
    const base = testEnv({ SLACK_API_URL: slackApi.url, PORT: "0" });
    const child = spawn(process.execPath, ["app/main.ts"], {
      cwd: root,
      env: { ...(base as Record<string, string>), PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const redis = new Redis(REDIS_URL);
    const queue = new Queue(COMMANDS_QUEUE, { connection: redis, prefix: String(base.LABOPS_REDIS_PREFIX) });
    try {
      // A fresh process compiles and loads every module first: on two busy cores that alone can take
      // longer than waitFor's default, which is not what this test is about.
      const port = await waitFor(() => /"port":(\d+)/.exec(out)?.[1], "the web role to listen", STARTUP_MS);
      const client = new SlackRequestClient(`http://127.0.0.1:${port}/slack/events`, TEST_SIGNING_SECRET);
      expect((await client.slashCommand({ command: "/lab", text: "list", channel: "C0TERM" })).status).toBe(
        200,
      );
      await waitFor(
        () => slackApi.messages.some((m) => m.channel === "C0TERM" && !m.ephemeral) || undefined,
        "the answer",
      );
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(out).toContain('"msg":"labops.stopped"');
      expect(err).toContain("SIGTERM received");
      const counts = await queue.getJobCounts("active", "waiting", "completed");
      expect(counts.active).toBe(0);
      expect(counts.waiting).toBe(0);
      expect(counts.completed).toBe(1);
    } finally {
      child.kill("SIGKILL");
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      redis.disconnect();
      await slackApi.close();
    }
  });
});

describe("SIGTERM while starting", () => {
  it("is kept until labops is up, then it stops gracefully and exits 0 instead of dying by the signal", async () => {
    const { startPrivateRedis } = await import("../helpers/private-redis.ts");
    const { spawnLabops, exitOf, killHard } = await import("../helpers/processes.ts");
    const { waitFor } = await import("../helpers/env.ts");
    const redis = await startPrivateRedis();
    // Down while labops starts: the worker role waits for it, which is the window a signal can hit.
    await redis.crash();
    const logs: string[] = [];
    const proc = spawnLabops(testEnv({ REDIS_URL: redis.url, PORT: "0" }), logs);
    try {
      await waitFor(
        () => logs.join("").includes('"msg":"labops.starting"') || undefined,
        "labops to start",
        STARTUP_MS,
      );
      const exited = exitOf(proc);
      proc.kill("SIGTERM");
      await waitFor(() => logs.join("").includes("SIGTERM received") || undefined, "the signal to be taken");
      await redis.restart();
      expect(await exited).toEqual({ code: 0, signal: null });
      const out = logs.join("");
      expect(out).toContain("stopping once started");
      expect(out).toContain('"msg":"labops.stopped"');
    } finally {
      await killHard(proc);
      await redis.stop();
    }
  }, 90_000);
});
