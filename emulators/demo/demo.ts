import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { StartAzureEmulatorOptions } from "../azure/index.ts";
import { type ChatEmulators, startChatEmulators } from "../chat.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../otlp/index.ts";
import type { SlackMessage } from "../slack/index.ts";
import type { TeamsPerson } from "../teams/index.ts";
import { type EmulatedCloud, startEmulatedCloud } from "../world.ts";
import { track } from "./children.ts";
import { type DemoPage, startDemoPage } from "./page.ts";
import { type DemoRedis, dropKeys, ensureRedis, freePort } from "./redis.ts";
import { cardBlock, cardState, cardSteps } from "./transcript.ts";

export { type CardState, cardRef, cardState } from "./transcript.ts";

/**
 * `npm run demo`: the emulated world (Azure, AKS, Slack, Teams) and the
 * unchanged bot, started as its own process exactly as `npm start` runs it,
 * only pointed at the emulators (and kept to loopback). A web page shows the
 * Slack channel and the Teams channel the bot is in.
 */

export const DEMO_CHANNEL = "C0DEMO";
export const DEMO_USER = "U0DEMO";
export const DEMO_USER_NAME = "you";
export const DEMO_TEAMS_CHANNEL = "platform";
/** The demo's Teams user (an AAD object id is a GUID); an admin like the Slack one. */
export const DEMO_TEAMS_USER: TeamsPerson = {
  aadObjectId: "6f1d2c3b-0d3e-4000-8000-00000000d3e0",
  name: "You",
};

export interface DemoOptions {
  /** How much faster than Azure the world runs; 10 makes a lab take well under a minute. */
  timeScale?: number;
  redisUrl?: string;
  /** Port of the demo page; a free one when absent. */
  pagePort?: number;
  /** Serve the channel page (the script mode does without). */
  page?: boolean;
  /** Where the bot's JSON log goes; a temp file (removed at stop) when absent. */
  botLogFile?: string;
  /** Compute quotas and restricted VM sizes (`--quota`, `--restrict-size`). */
  compute?: StartAzureEmulatorOptions["compute"];
}

export interface Demo {
  pageUrl: string | undefined;
  botUrl: string;
  botPid: number | undefined;
  botLogFile: string;
  cloud: EmulatedCloud;
  chat: ChatEmulators;
  redis: DemoRedis;
  /** Prefix of every Redis key the bot writes (removed at stop on a Redis the demo did not start). */
  redisPrefix: string;
  /** The Teams channel's conversation id. */
  teamsChannel: string;
  /** The bot's spans, exported to it over OTLP (the trace page draws them). */
  traces: OtlpReceiver;
  /** The steps running in any job card right now, by label (for "Stopping… waiting for …"). */
  runningSteps(): string[];
  /** Stops everything: the page, the bot (letting a running step finish), the emulators, Redis's keys. */
  stop(): Promise<void>;
  /** Kills the bot at once; a stop under way then finishes without waiting for it. */
  force(): void;
}

async function waitReady(url: string, bot: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (bot.exitCode !== null)
      throw new Error(`the bot exited with code ${bot.exitCode} while starting; see its log`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the bot did not become ready within ${timeoutMs} ms`);
}

export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const timeScale = options.timeScale ?? 10;
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  let stopping: Promise<void> | undefined;
  let bot: ChildProcess | undefined;
  try {
    const redis = await ensureRedis(options.redisUrl);
    stops.push(() => redis.stop());
    // A private Redis is thrown away; on one the user runs, the demo's keys go with it.
    const prefix = redis.kind === "private" ? "demo" : `demo-${randomBytes(3).toString("hex")}`;
    if (redis.kind === "existing") stops.push(async () => void (await dropKeys(redis.url, prefix)));
    const cloud = await startEmulatedCloud({
      timeScale,
      ...(options.compute ? { compute: options.compute } : {}),
    });
    stops.push(() => cloud.stop());
    const chat = await startChatEmulators({ timeScale, ca: cloud.ca });
    stops.push(() => chat.close());
    const teamsChannel = chat.teams.channel(DEMO_TEAMS_CHANNEL);
    // The bot's traces come here over OTLP, as they would go to a collector (the page's /trace).
    const traces = await startOtlpReceiver();
    stops.push(() => traces.close());

    const port = await freePort();
    const botUrl = `http://127.0.0.1:${port}`;
    const logDir = mkdtempSync(join(tmpdir(), "labops-demo-"));
    stops.push(async () => rmSync(logDir, { recursive: true, force: true }));
    const botLogFile = options.botLogFile ?? join(logDir, "bot.log");
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      ...cloud.env(),
      ...chat.env,
      LABOPS_CA_FILE: cloud.azure.caFile,
      REDIS_URL: redis.url,
      LABOPS_REDIS_PREFIX: prefix,
      LABOPS_SECRET_KEY: randomBytes(32).toString("base64"),
      LABOPS_TIME_SCALE: String(timeScale),
      LABOPS_ADMINS: `slack:${DEMO_USER},teams:${DEMO_TEAMS_USER.aadObjectId}`,
      LABOPS_LOG_LEVEL: "info",
      LABOPS_HOST: "127.0.0.1",
      PORT: String(port),
      OTEL_EXPORTER_OTLP_ENDPOINT: traces.url,
      OTEL_SERVICE_NAME: "labops",
      // Spans show on the page within a second, not after the default five.
      OTEL_BSP_SCHEDULE_DELAY: "500",
    };
    const root = fileURLToPath(new URL("../../", import.meta.url));
    // Its own process group (children.ts): a Ctrl-C reaches the demo, which stops the bot first.
    const child = track(
      spawn(process.execPath, ["app/main.ts"], {
        cwd: root,
        env,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      }),
    );
    bot = child;
    const log = createWriteStream(botLogFile);
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("exit", () => resolve());
    });
    stops.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const timer = setTimeout(() => child.kill("SIGKILL"), 40_000);
        child.kill("SIGTERM");
        await exited;
        clearTimeout(timer);
      }
      await new Promise<void>((resolve) => log.end(() => resolve()));
    });
    await waitReady(botUrl, child, 30_000);
    chat.connect(botUrl);

    let page: DemoPage | undefined;
    if (options.page !== false) {
      page = await startDemoPage({
        slack: chat.slack,
        teams: chat.teams,
        cloud,
        channel: DEMO_CHANNEL,
        user: DEMO_USER,
        userName: DEMO_USER_NAME,
        teamsChannel,
        teamsUser: DEMO_TEAMS_USER,
        timeScale,
        traces,
        ...(options.pagePort !== undefined ? { port: options.pagePort } : {}),
      });
      const p = page;
      stops.push(() => p.close());
    }
    return {
      pageUrl: page?.url,
      botUrl,
      botPid: child.pid,
      botLogFile,
      cloud,
      chat,
      redis,
      redisPrefix: prefix,
      teamsChannel,
      traces,
      runningSteps: () => runningSteps(chat),
      stop() {
        stopping ??= stopAll();
        return stopping;
      },
      force() {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      },
    };
  } catch (error) {
    bot?.kill("SIGKILL");
    await stopAll();
    throw error;
  }
}

/** Labels of the steps running in the cards of either channel. */
function runningSteps(chat: ChatEmulators): string[] {
  const labels = new Set<string>();
  for (const m of chat.slack.workspace.messages) {
    if (m.ephemeral || m.threadTs || !["running", "queued"].includes(cardState(m))) continue;
    for (const s of cardSteps(m)) if (s.state === "running") labels.add(s.label);
  }
  for (const m of chat.teams.tenant.messages) {
    for (const a of m.attachments) {
      const facts = JSON.stringify(a.content).match(/"title":"🔵 ([^"]+)"/g) ?? [];
      for (const f of facts) labels.add(f.slice('"title":"🔵 '.length, -1));
    }
  }
  return [...labels];
}

/** The Slack channel as the demo user sees it, as plain text: each card a short block, replies under it. */
export function conversationText(demo: Demo): string {
  const names = { [DEMO_USER]: DEMO_USER_NAME, U0BOT: "labops" };
  const lines: string[] = [];
  const say = (who: string, m: SlackMessage) => {
    const pad = " ".repeat(who.length);
    const block = cardBlock(m, names, pad);
    lines.push(`${who}${(block[0] ?? "").slice(pad.length)}`, ...block.slice(1));
  };
  for (const root of demo.chat.slack.workspace.conversation(DEMO_CHANNEL, DEMO_USER)) {
    say(
      root.ephemeral ? "labops, to you only: " : root.user === DEMO_USER ? `${DEMO_USER_NAME}: ` : "labops: ",
      root,
    );
    for (const reply of root.replies) say("    ↳ ", reply);
  }
  return lines.join("\n");
}
