import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { StartAzureEmulatorOptions } from "../azure/index.ts";
import { type ChatEmulators, startChatEmulators } from "../chat.ts";
import type { SlackMessage } from "../slack/index.ts";
import { type EmulatedCloud, startEmulatedCloud } from "../world.ts";
import { type DemoPage, startDemoPage } from "./page.ts";
import { type DemoRedis, ensureRedis, freePort } from "./redis.ts";

/**
 * `npm run demo`: the emulated world (Azure, AKS, Slack, Teams) and the
 * unchanged bot, started as its own process exactly as `npm start` runs it,
 * only pointed at the emulators. A web page shows the Slack channel.
 */

export const DEMO_CHANNEL = "C0DEMO";
export const DEMO_USER = "U0DEMO";
export const DEMO_USER_NAME = "you";

export interface DemoOptions {
  /** How much faster than Azure the world runs; 10 makes a lab take well under a minute. */
  timeScale?: number;
  redisUrl?: string;
  /** Port of the demo page; a free one when absent. */
  pagePort?: number;
  /** Serve the channel page (the script mode does without). */
  page?: boolean;
  /** Where the bot's JSON log goes; a temp file when absent. */
  botLogFile?: string;
  /** Compute quotas and restricted VM sizes (`--quota`, `--restrict-size`). */
  compute?: StartAzureEmulatorOptions["compute"];
}

export type CardState =
  | "queued"
  | "running"
  | "succeeded"
  | "failed"
  | "cancelled"
  | "info"
  | "warning"
  | "none";

const ICONS: Array<[string, CardState]> = [
  [":white_check_mark:", "succeeded"],
  [":x:", "failed"],
  [":warning:", "warning"],
  [":information_source:", "info"],
  [":no_entry_sign:", "cancelled"],
  [":arrows_counterclockwise:", "running"],
  [":hourglass_flowing_sand:", "queued"],
];

/** The status of a bot card, read from how the Slack adapter renders it. */
export function cardState(message: SlackMessage): CardState {
  const first = (message.blocks?.[0] ?? {}) as { text?: { text?: string } };
  const text = first.text?.text ?? "";
  return ICONS.find(([icon]) => text.startsWith(icon))?.[1] ?? "none";
}

export function cardRef(message: SlackMessage): string | undefined {
  return /ref (c-[a-z0-9-]+)/.exec(JSON.stringify(message.blocks ?? []))?.[1];
}

export interface Demo {
  pageUrl: string | undefined;
  botUrl: string;
  botPid: number | undefined;
  botLogFile: string;
  cloud: EmulatedCloud;
  chat: ChatEmulators;
  redis: DemoRedis;
  stop(): Promise<void>;
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
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const redis = await ensureRedis(options.redisUrl);
    stops.push(() => redis.stop());
    const cloud = await startEmulatedCloud({
      timeScale,
      ...(options.compute ? { compute: options.compute } : {}),
    });
    stops.push(() => cloud.stop());
    const chat = await startChatEmulators({ timeScale, ca: cloud.ca });
    stops.push(() => chat.close());

    const port = await freePort();
    const botUrl = `http://127.0.0.1:${port}`;
    const logDir = mkdtempSync(join(tmpdir(), "labops-demo-"));
    const botLogFile = options.botLogFile ?? join(logDir, "bot.log");
    const prefix = redis.kind === "private" ? "demo" : `demo-${randomBytes(3).toString("hex")}`;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      ...cloud.env(),
      ...chat.env,
      LABOPS_CA_FILE: cloud.azure.caFile,
      REDIS_URL: redis.url,
      LABOPS_REDIS_PREFIX: prefix,
      LABOPS_SECRET_KEY: randomBytes(32).toString("base64"),
      LABOPS_TIME_SCALE: String(timeScale),
      LABOPS_ADMINS: `slack:${DEMO_USER}`,
      LABOPS_LOG_LEVEL: "info",
      PORT: String(port),
    };
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const bot = spawn(process.execPath, ["app/main.ts"], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = createWriteStream(botLogFile);
    bot.stdout?.pipe(log);
    bot.stderr?.pipe(log);
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          if (bot.exitCode !== null || bot.signalCode !== null) return resolve();
          const timer = setTimeout(() => bot.kill("SIGKILL"), 40_000);
          bot.once("exit", () => {
            clearTimeout(timer);
            log.end();
            resolve();
          });
          bot.kill("SIGTERM");
        }),
    );
    await waitReady(botUrl, bot, 30_000);
    chat.connect(botUrl);

    let page: DemoPage | undefined;
    if (options.page !== false) {
      page = await startDemoPage({
        slack: chat.slack,
        channel: DEMO_CHANNEL,
        user: DEMO_USER,
        userName: DEMO_USER_NAME,
        ...(options.pagePort !== undefined ? { port: options.pagePort } : {}),
      });
      const p = page;
      stops.push(() => p.close());
    }
    return { pageUrl: page?.url, botUrl, botPid: bot.pid, botLogFile, cloud, chat, redis, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export interface ScriptStep {
  command: string;
  ack: string;
  state: CardState;
  ok: boolean;
}

const SLASH: Record<string, string> = { lab: "/lab", labs: "/lab", secret: "/secret", secrets: "/secret" };

/**
 * Runs commands one after the other, as the demo user in the demo channel,
 * each until its card reaches a final state (or a private answer arrives).
 */
export async function runScript(
  demo: Demo,
  commands: string[],
  options: { timeoutMs?: number; onProgress?: (line: string) => void } = {},
): Promise<ScriptStep[]> {
  const user = demo.chat.slack.as(DEMO_USER, DEMO_USER_NAME);
  const workspace = demo.chat.slack.workspace;
  const results: ScriptStep[] = [];
  for (const command of commands) {
    const [head = "", ...rest] = command.trim().split(/\s+/);
    const slash = SLASH[head.toLowerCase()] ?? "/lab";
    const text = SLASH[head.toLowerCase()] ? rest.join(" ") : command.trim();
    const before = workspace.messages.length;
    options.onProgress?.(`> /${slash.slice(1)} ${text}`);
    const delivery = await user.slash(slash, text, { channel: DEMO_CHANNEL });
    const ack = typeof delivery.body?.text === "string" ? delivery.body.text : "";
    options.onProgress?.(`  ${ack}`);
    const ref = /ref (c-[a-z0-9]+)/.exec(ack)?.[1];
    if (!ref) {
      results.push({ command, ack, state: "none", ok: /^(\*|•)/.test(ack) });
      continue;
    }
    const deadline = Date.now() + (options.timeoutMs ?? 5 * 60_000);
    let state: CardState = "none";
    for (;;) {
      const card = workspace.messages.find((m) => !m.ephemeral && !m.threadTs && cardRef(m) === ref);
      state = card ? cardState(card) : "none";
      const notice = workspace.messages
        .slice(before)
        .find((m) => m.ephemeral && m.visibleTo === DEMO_USER && !/ref c-/.test(m.text));
      if (["succeeded", "failed", "cancelled", "info", "warning"].includes(state)) break;
      if (!card && notice) {
        options.onProgress?.(`  ${notice.text}`);
        state = "failed";
        break;
      }
      if (Date.now() > deadline) {
        state = "failed";
        options.onProgress?.("  (gave up waiting)");
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    results.push({ command, ack, state, ok: state === "succeeded" || state === "info" });
  }
  return results;
}

/** The channel as the demo user sees it, as plain text: roots with their final text and their threads. */
export function conversationText(demo: Demo): string {
  const lines: string[] = [];
  for (const root of demo.chat.slack.workspace.conversation(DEMO_CHANNEL, DEMO_USER)) {
    const who = root.ephemeral ? "labops (only you)" : root.user === DEMO_USER ? DEMO_USER_NAME : "labops";
    lines.push(`${who}: ${blocksText(root)}`);
    for (const reply of root.replies) lines.push(`    ↳ ${blocksText(reply)}`);
  }
  return lines.join("\n");
}

function blocksText(message: SlackMessage): string {
  if (!message.blocks?.length) return message.text;
  const parts: string[] = [];
  for (const block of message.blocks as Array<Record<string, unknown>>) {
    const text = (block.text as { text?: string } | undefined)?.text;
    if (text) parts.push(text);
    for (const f of (block.fields as Array<{ text?: string }> | undefined) ?? [])
      if (f.text) parts.push(f.text.replace("\n", ": "));
    for (const e of (block.elements as Array<{ text?: string | { text?: string } }> | undefined) ?? []) {
      const t = typeof e.text === "string" ? e.text : e.text?.text;
      if (t && block.type !== "actions") parts.push(t);
    }
  }
  return parts.join(" | ").replace(/\n/g, " / ");
}
