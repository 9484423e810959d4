import { createServer, type Server } from "node:http";
import { CloudAdapter } from "botbuilder";
import express from "express";
import { teamsAuthentication } from "../adapters/teams/adapter.ts";
import { startWorld } from "../test/helpers/chat-world.ts";
import { concurrentRounds, type LoadTarget, type Timed } from "./lib/load.ts";
import { log, out, setting } from "./lib/report.ts";
import { ratio } from "./lib/stats.ts";

/**
 * Teams acknowledgement latency: BENCH_CONCURRENCY (100) `lab create`
 * messages @mentioning the bot, each in its own channel, sent at once by the
 * Teams emulator with emulator-issued JWTs (minted before the round), over
 * keep-alive HTTP, BENCH_ROUNDS (5) rounds after BENCH_WARMUP (2), to the
 * bot's web role and, interleaved round by round, to a bare botbuilder
 * CloudAdapter app (same authentication settings) whose turn does nothing.
 * The bot's turn ends with its quick reply ("Queued…") posted to the
 * emulator's connector, since CloudAdapter answers only when the turn ends:
 * that reply is part of what it measures; the bare app sends none. The jobs
 * enqueued are counted to prove every message was accepted.
 *
 * Goal: DESIGN sets the 100 ms p99 bar for Slack; the same bar is applied here.
 * Run: `npm run bench -- teams-ack`.
 */

const CONCURRENCY = setting("BENCH_CONCURRENCY", 100);
const ROUNDS = setting("BENCH_ROUNDS", 5);
const WARMUP = setting("BENCH_WARMUP", 2);
const GOAL_P99_MS = 100;

const world = await startWorld({ slack: false, env: { LABOPS_ROLE: "web", LABOPS_LOG_LEVEL: "warn" } });
const teamsConfig = world.bot.config.teams;
if (!teamsConfig) throw new Error("Teams is not configured");
const botEndpoint = `http://127.0.0.1:${world.bot.port}/api/messages`;

// The bare app: botbuilder's CloudAdapter on express, validating the same tokens, doing nothing in the turn.
const adapter = new CloudAdapter(teamsAuthentication(teamsConfig, world.bot.config.caPem));
const bareApp = express();
bareApp.use(express.json());
bareApp.post("/api/messages", (req, res) => {
  void adapter.process(req, res, async () => undefined);
});
const bareServer: Server = createServer(bareApp);
await new Promise<void>((resolve) => bareServer.listen(0, "127.0.0.1", resolve));
const bareAddress = bareServer.address();
if (bareAddress === null || typeof bareAddress === "string") throw new Error("bare app has no port");
const bareEndpoint = `http://127.0.0.1:${bareAddress.port}/api/messages`;

const teams = world.teams;
const channels = Array.from({ length: CONCURRENCY }, (_, i) => teams.channel(`bench-ack-${i}`));
const user = teams.as({ aadObjectId: "aad-bench", name: "Bench" });

function target(name: string, endpoint: string): LoadTarget {
  return {
    name,
    prepare(round, i) {
      // The emulator delivers to one endpoint; targets take their rounds in turn, never at once.
      teams.setBotEndpoint(endpoint);
      const token = teams.mintInbound();
      const channel = channels[i] as string;
      return async (): Promise<Timed> => {
        const started = performance.now();
        const delivery = await user.say(channel, `lab create tack-${round}-${i}`, { token });
        return { status: delivery.status, ms: performance.now() - started };
      };
    },
  };
}

try {
  const jobsBefore = await world.jobCount();
  const results = await concurrentRounds([target("bot", botEndpoint), target("bare", bareEndpoint)], {
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    warmupRounds: WARMUP,
  });
  const enqueued = (await world.jobCount()) - jobsBefore;
  const expected = CONCURRENCY * (ROUNDS + WARMUP);
  const bot = results.get("bot");
  const bare = results.get("bare");
  if (!bot || !bare) throw new Error("missing results");
  const replies = teams.tenant.calls.filter((c) => c.status < 300).length;
  log("bench.teams_ack.enqueued", { enqueued, expected, connectorCalls: replies });
  out({
    bench: "teams.ack",
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    bot_p50_ms: bot.latency.p50,
    bot_p99_ms: bot.latency.p99,
    bot_max_ms: bot.latency.max,
    bare_p50_ms: bare.latency.p50,
    bare_p99_ms: bare.latency.p99,
    bare_max_ms: bare.latency.max,
    ratio_p50: ratio(bot.latency.p50, bare.latency.p50),
    ratio_p99: ratio(bot.latency.p99, bare.latency.p99),
    bot_cpu_per_request_ms: bot.cpuPerRequestMs,
    bare_cpu_per_request_ms: bare.cpuPerRequestMs,
    non200: bot.non200 + bare.non200,
    connector_429: teams.rateLimited().length,
    jobs_enqueued: enqueued,
    jobs_expected: expected,
    goal: `bot p99 < ${GOAL_P99_MS} ms (the Slack bar), every message enqueued`,
    met: bot.latency.p99 < GOAL_P99_MS && bot.non200 === 0 && enqueued === expected,
  });
} finally {
  await new Promise((resolve) => bareServer.close(resolve));
  await world.close();
}
// Sockets of the SDKs (keep-alive, token refresh timers) must not keep a finished bench alive.
process.exit(0);
