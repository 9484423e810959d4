import { createServer, Agent as HttpAgent, type Server } from "node:http";
import { App, HTTPReceiver } from "@slack/bolt";
import { EMULATED } from "../emulators/chat.ts";
import { SLACK_SIGNING_SECRET, startWorld } from "../test/helpers/chat-world.ts";
import { concurrentRounds, type LoadTarget, type PreparedPost, timedPost } from "./lib/load.ts";
import { log, out, setting } from "./lib/report.ts";
import { signedSlashCommand } from "./lib/slack-command.ts";
import { ratio } from "./lib/stats.ts";

/**
 * Slack acknowledgement latency: BENCH_CONCURRENCY (100) signed `/lab create`
 * slash commands sent at once over keep-alive HTTP, BENCH_ROUNDS (5) rounds
 * after BENCH_WARMUP (2), to the bot's web role (real Bolt receiver, real
 * intake, real BullMQ enqueue in Redis) and, interleaved round by round, to a
 * bare Bolt app whose only handler calls ack(). Each command is distinct
 * (name, user, trigger id), so the bot's de-duplication never answers in its
 * place; the jobs enqueued are counted to prove every command was accepted.
 *
 * Goal (docs/ARCHITECTURE.md, Quality bars): bot p99 under 100 ms.
 * Run: `npm run bench -- slack-ack`.
 */

const CONCURRENCY = setting("BENCH_CONCURRENCY", 100);
const ROUNDS = setting("BENCH_ROUNDS", 5);
const WARMUP = setting("BENCH_WARMUP", 2);
const GOAL_P99_MS = 100;

const world = await startWorld({
  teams: false,
  env: { LABOPS_ROLE: "web", LABOPS_LOG_LEVEL: "warn" },
});
const botUrl = new URL(`http://127.0.0.1:${world.bot.port}/slack/events`);

// The bare app: Bolt's HTTP receiver and one handler that acknowledges.
const receiver = new HTTPReceiver({ signingSecret: SLACK_SIGNING_SECRET, endpoints: "/slack/events" });
// Its bot ids are given, so Bolt never calls auth.test: the bare app touches nothing but the request.
const bare = new App({
  receiver,
  token: EMULATED.slackBotToken,
  botId: "B0BOT",
  botUserId: "U0BOT",
  tokenVerificationEnabled: false,
});
bare.command("/lab", async ({ ack }) => {
  await ack();
});
const bareServer: Server = createServer(receiver.requestListener);
await new Promise<void>((resolve) => bareServer.listen(0, "127.0.0.1", resolve));
const bareAddress = bareServer.address();
if (bareAddress === null || typeof bareAddress === "string") throw new Error("bare app has no port");
const bareUrl = new URL(`http://127.0.0.1:${bareAddress.port}/slack/events`);

function signedCommand(round: number, i: number): PreparedPost {
  const user = `U0B${String(i).padStart(4, "0")}`;
  // A channel per round: the per-conversation cap (1000 in tests) never refuses, whatever the rounds.
  return signedSlashCommand(world, {
    text: `create ack-${round}-${i}`,
    channel: `C0BENCHACK${round}`,
    user,
    i,
  });
}

const agentOptions = { keepAlive: true, maxSockets: CONCURRENCY };
const botAgent = new HttpAgent(agentOptions);
const bareAgent = new HttpAgent(agentOptions);
const targets: LoadTarget[] = [
  {
    name: "bot",
    prepare: (round, i) => {
      const post = signedCommand(round, i);
      return () => timedPost(botAgent, botUrl, post);
    },
  },
  {
    name: "bare",
    prepare: (round, i) => {
      const post = signedCommand(round, i);
      return () => timedPost(bareAgent, bareUrl, post);
    },
  },
];

try {
  const jobsBefore = await world.jobCount();
  const results = await concurrentRounds(targets, {
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    warmupRounds: WARMUP,
  });
  const enqueued = (await world.jobCount()) - jobsBefore;
  const expected = CONCURRENCY * (ROUNDS + WARMUP);
  const bot = results.get("bot");
  const bareResult = results.get("bare");
  if (!bot || !bareResult) throw new Error("missing results");
  const calls: Record<string, number> = {};
  for (const c of world.slack.calls) {
    const key = `${c.method} ${c.status}${c.error ? ` ${c.error}` : ""}`;
    calls[key] = (calls[key] ?? 0) + 1;
  }
  log("bench.slack_ack.enqueued", { enqueued, expected, webApiCalls: calls });
  out({
    bench: "slack.ack",
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    bot_p50_ms: bot.latency.p50,
    bot_p99_ms: bot.latency.p99,
    bot_max_ms: bot.latency.max,
    bare_p50_ms: bareResult.latency.p50,
    bare_p99_ms: bareResult.latency.p99,
    bare_max_ms: bareResult.latency.max,
    ratio_p50: ratio(bot.latency.p50, bareResult.latency.p50),
    ratio_p99: ratio(bot.latency.p99, bareResult.latency.p99),
    bot_cpu_per_request_ms: bot.cpuPerRequestMs,
    bare_cpu_per_request_ms: bareResult.cpuPerRequestMs,
    non200: bot.non200 + bareResult.non200,
    jobs_enqueued: enqueued,
    jobs_expected: expected,
    goal: `bot p99 < ${GOAL_P99_MS} ms, every command enqueued`,
    met: bot.latency.p99 < GOAL_P99_MS && bot.non200 === 0 && enqueued === expected,
  });
} finally {
  botAgent.destroy();
  bareAgent.destroy();
  await new Promise((resolve) => bareServer.close(resolve));
  await world.close();
}
// Sockets of the SDKs (keep-alive, retry timers) must not keep a finished bench alive.
process.exit(0);
