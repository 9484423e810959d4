import { rm } from "node:fs/promises";
import { Agent as HttpAgent } from "node:http";
import { dirname } from "node:path";
import { EMULATED, writeCaFile } from "../emulators/chat.ts";
import { startTeamsEmulator } from "../emulators/teams/index.ts";
import { scaleRequests, teamsConversationLimits } from "../src/chat/limits.ts";
import {
  type AckChild,
  childTarget,
  gcFromNow,
  preloadRounds,
  type RoundSigner,
  startAckChild,
} from "./lib/ack-child.ts";
import {
  botAndBareLatency,
  concurrentRounds,
  type LoadTarget,
  mergedResult,
  type PreparedPost,
  timedPost,
} from "./lib/load.ts";
import { log, out, setting } from "./lib/report.ts";
import { ratio, summarize } from "./lib/stats.ts";

/**
 * Teams acknowledgement latency and cost: BENCH_CONCURRENCY (100) `lab
 * create` messages @mentioning the bot, each in a channel of its own, signed
 * by the Teams emulator (a JWT per activity), sent at once over keep-alive
 * HTTP, BENCH_ROUNDS (20) rounds after BENCH_WARMUP (8), to the bot's web
 * role and, interleaved round by round (bot, bare, bare, bot), to a bare
 * botbuilder CloudAdapter app with the same authentication settings whose
 * turn does nothing. Each app runs in a process of its own (lib/ack-child.ts:
 * lib/teams-bot-child.ts, lib/bare-cloudadapter-child.ts); the Teams
 * emulator runs here, in the load generator: both apps fetch its OpenID
 * metadata and keys and trust its CA, and the bot's answers reach its Bot
 * Connector. Every round's activities and tokens are built before the rounds
 * (preloadRounds). Each round starts once the bot's answers to its previous
 * round are out, so no app's round shares the machine with them.
 *
 * CPU is each app's own, read from its process around each of its rounds.
 * The bot's is read twice: when the round's last 200 is in
 * (`bot_cpu_per_request_ms`, with whatever part of its answers went out by
 * then) and once its answers to the round are all out
 * (`bot_cpu_with_answer_per_request_ms`: the acknowledgement and the quick
 * answer that follows it, ADR 0006). The bare app sends no answer. The jobs enqueued are
 * counted to prove every message was accepted. Then BENCH_ANSWER_ROUNDS (5)
 * more rounds to the bot alone time what the user sees, from sending the
 * message to the bot's answer in its thread: with 100 messages in one tenant
 * at once that is bounded below by Teams' 30 calls a second per app (the bot
 * keeps 27 and a jitter margin per window), the floor reported beside it.
 *
 * Goals: issue 19's, the bot's CPU per activity to its 200 (`ratio_cpu`; the
 * few answers already out by then included) at most 1.2× the bare app's,
 * which answers nothing (`ratio_cpu_with_answer` is reported beside it); docs/ARCHITECTURE.md's 100 ms p99 bar (set for Slack)
 * for the ack; answers within 1.5× the pacing floor.
 * Run: `npm run bench -- teams-ack`.
 */

const CONCURRENCY = setting("BENCH_CONCURRENCY", 100);
const ROUNDS = setting("BENCH_ROUNDS", 20);
const WARMUP = setting("BENCH_WARMUP", 8);
const ANSWER_ROUNDS = setting("BENCH_ANSWER_ROUNDS", 5);
const TIME_SCALE = 20;
const GOAL_P99_MS = 100;
const GOAL_CPU_RATIO = 1.2;
const ANSWER_GOAL_OVER_FLOOR = 1.5;

const teams = await startTeamsEmulator({
  appId: EMULATED.teamsAppId,
  appPassword: EMULATED.teamsAppPassword,
  tenantId: EMULATED.teamsTenant,
  timeScale: TIME_SCALE,
});
const caFile = await writeCaFile(teams.caPem);
const childEnv = {
  BENCH_TEAMS_ENV: JSON.stringify({
    ...teams.env(),
    LABOPS_CA_FILE: caFile,
    LABOPS_TIME_SCALE: String(TIME_SCALE),
  }),
};
const bot = await startAckChild("bot", new URL("./lib/teams-bot-child.ts", import.meta.url), childEnv);
const bare = await startAckChild(
  "bare",
  new URL("./lib/bare-cloudadapter-child.ts", import.meta.url),
  childEnv,
);
const botUrl = new URL(`http://127.0.0.1:${bot.port}/api/messages`);
teams.setBotEndpoint(botUrl.href);

const channels = Array.from({ length: CONCURRENCY }, (_, i) => teams.channel(`bench-ack-${i}`));
// A user per channel: the caps count labs per user, and a run asks for thousands.
const users = channels.map((_, i) => teams.as({ aadObjectId: `aad-bench-${i}`, name: `Bench ${i}` }));

/** An activity as Teams posts it: its JWT and body, built ahead. */
function activityPost(i: number, text: string): PreparedPost & { activityId: string } {
  const { activity } = (users[i] as (typeof users)[number]).compose(channels[i] as string, text);
  return {
    activityId: String(activity.id),
    headers: { "content-type": "application/json", authorization: `Bearer ${teams.mintInbound()}` },
    body: JSON.stringify(activity),
  };
}
const sign: RoundSigner = async (tag, round, count) =>
  Array.from({ length: count }, (_, i) => activityPost(i, `lab create t${tag}-${round}-${i}`));

/** Connector calls that succeeded: the bot's answers, one per message. */
const answered = () => teams.tenant.calls.filter((c) => c.status < 300).length;
let botMessages = 0;
const answersOut = () => until(() => answered() >= botMessages, 60_000, "the bot's answers");

/** The bot's CPU over the measured rounds: to each round's last 200, and to its last answer. */
const botCpu = { ackMicros: 0, fullMicros: 0, answersAtLast200: 0 };

/**
 * A target whose rounds start once the bot's answers are out; for the bot,
 * its CPU is read at the last 200 and again once the round's answers are
 * out (what concurrentRounds counts: the acknowledgement with its answer).
 */
function gated(target: LoadTarget, app: AckChild): LoadTarget {
  let round = 0;
  let before: number | undefined;
  const isBot = app === bot;
  return {
    name: target.name,
    async prepare(r, i) {
      if (i === 0) {
        round = r;
        await answersOut();
        if (isBot) botMessages += CONCURRENCY;
      }
      return target.prepare(r, i);
    },
    async cpuMicros() {
      if (!isBot) return app.ask<number>("cpu");
      if (before === undefined) {
        before = await app.ask<number>("cpu");
        return before;
      }
      const start = before;
      before = undefined;
      const atLast200 = await app.ask<number>("cpu");
      const answersThen = answered() - (botMessages - CONCURRENCY);
      await answersOut();
      const full = await app.ask<number>("cpu");
      if (round >= WARMUP) {
        botCpu.ackMicros += atLast200 - start;
        botCpu.fullMicros += full - start;
        botCpu.answersAtLast200 += answersThen;
      }
      return full;
    },
  };
}

const path = "/api/messages";
const raw = [
  childTarget("bot", "bot", bot, sign, CONCURRENCY, path),
  childTarget("bare", "bare", bare, sign, CONCURRENCY, path),
  childTarget("bare again", "barea", bare, sign, CONCURRENCY, path),
  childTarget("bot again", "bota", bot, sign, CONCURRENCY, path),
];
const apps = [bot, bare, bare, bot];
const targets = raw.map((t, k) => gated(t, apps[k] as AckChild));
const answerAgent = new HttpAgent({ keepAlive: true, maxSockets: CONCURRENCY });

try {
  const jobsBefore = await bot.ask<number>("jobs");
  const preparing = performance.now();
  // The answer rounds' activities too are built now, before any round.
  const answerRounds = Array.from({ length: ANSWER_ROUNDS }, (_, round) =>
    channels.map((_, i) => activityPost(i, `lab create tans-${round}-${i}`)),
  );
  await preloadRounds(raw, [bot, bare], ROUNDS + WARMUP);
  log("bench.teams_ack.prepared", {
    activities: 4 * CONCURRENCY * (ROUNDS + WARMUP) + CONCURRENCY * ANSWER_ROUNDS,
    ms: Math.round(performance.now() - preparing),
  });
  const gcPerRequest = await gcFromNow([bot, bare]);
  const results = await concurrentRounds(targets, {
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    warmupRounds: WARMUP,
  });
  await answersOut();
  const enqueued = (await bot.ask<number>("jobs")) - jobsBefore;
  const sent = 2 * CONCURRENCY * (ROUNDS + WARMUP);
  const botGc = await gcPerRequest(bot, sent);
  const bareGc = await gcPerRequest(bare, sent);

  // What the user sees: message sent to the bot's answer in its thread, rounds run one at a time.
  const answerMs: number[] = [];
  let answerNon200 = 0;
  for (const posts of answerRounds) {
    botMessages += posts.length;
    await Promise.all(
      posts.map(async (post) => {
        const started = performance.now();
        const reply = teams.tenant.waitFor(
          (m) => m.from.role === "bot" && m.replyToId === post.activityId,
          60_000,
          `answer to activity ${post.activityId}`,
        );
        const delivery = await timedPost(answerAgent, botUrl, post);
        if (delivery.status !== 200) answerNon200 += 1;
        await reply;
        answerMs.push(performance.now() - started);
      }),
    );
  }
  const answers = summarize(answerMs);
  const floorMs = pacingFloorMs(CONCURRENCY, TIME_SCALE);
  const botResult = mergedResult(results, "bot", "bot again");
  const bareResult = mergedResult(results, "bare", "bare again");
  const measured = 2 * CONCURRENCY * ROUNDS;
  const perRequest = (micros: number) => Math.round((micros / 1000 / measured) * 1000) / 1000;
  const botAckCpu = perRequest(botCpu.ackMicros);
  // The acknowledgement's CPU (to each round's last 200) against the bare app, which answers nothing.
  const cpuRatio = ratio(botAckCpu, bareResult.cpuPerRequestMs);
  const expected = sent;
  log("bench.teams_ack.enqueued", {
    enqueued,
    expected,
    connectorCalls: answered(),
    // How much of the bot's answering the CPU to the last 200 holds: answers out by then, of 1.
    answersOutAtLast200: Math.round((botCpu.answersAtLast200 / measured) * 100) / 100,
  });
  out({
    bench: "teams.ack",
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    ...botAndBareLatency(botResult, bareResult),
    bot_cpu_per_request_ms: botAckCpu,
    bare_cpu_per_request_ms: bareResult.cpuPerRequestMs,
    ratio_cpu: cpuRatio,
    bot_cpu_with_answer_per_request_ms: botResult.cpuPerRequestMs,
    ratio_cpu_with_answer: ratio(botResult.cpuPerRequestMs, bareResult.cpuPerRequestMs),
    bot_gc_ms_per_request: botGc,
    bare_gc_ms_per_request: bareGc,
    answer_p50_ms: answers.p50,
    answer_p99_ms: answers.p99,
    answer_floor_ms: floorMs,
    non200: botResult.non200 + bareResult.non200 + answerNon200,
    connector_429: teams.rateLimited().length,
    jobs_enqueued: enqueued,
    jobs_expected: expected,
    goal: `bot CPU per activity to its 200 ≤ ${GOAL_CPU_RATIO}× the bare CloudAdapter app's, ack p99 < ${GOAL_P99_MS} ms (the Slack bar), every message enqueued, answer p99 within ${ANSWER_GOAL_OVER_FLOOR}× the pacing floor`,
    met:
      cpuRatio <= GOAL_CPU_RATIO &&
      botResult.latency.p99 < GOAL_P99_MS &&
      botResult.non200 + bareResult.non200 + answerNon200 === 0 &&
      enqueued === expected &&
      answers.p99 <= floorMs * ANSWER_GOAL_OVER_FLOOR,
  });
} finally {
  for (const target of raw) target.agent.destroy();
  answerAgent.destroy();
  await bot.ask("close");
  await bare.ask("close");
  await teams.close();
  // writeCaFile made a folder of its own (labops-ca-…): nothing of the bench stays in the temp dir.
  await rm(dirname(caFile), { recursive: true, force: true });
}

/**
 * The soonest the last of `n` connector calls in one tenant can go under the
 * bot's own per-app window (scaled like the bot scales it), the first window at once.
 */
function pacingFloorMs(n: number, timeScale: number): number {
  const [, app] = scaleRequests(
    teamsConversationLimits({ platform: "teams", tenant: "t", channel: "c" }),
    timeScale,
  );
  const window = app?.windows[0];
  if (!window) throw new Error("bench: no per-app window in teamsConversationLimits");
  return Math.round((Math.ceil(n / window.max) - 1) * window.windowMs);
}

async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`bench: waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// Sockets of the SDKs (keep-alive, token refresh timers) must not keep a finished bench alive.
process.exit(0);
