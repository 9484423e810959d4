import { Redis } from "ioredis";
import { RedisLabRegistry, redisHostRegistry } from "../adapters/redis/registry.ts";
import { startLabops } from "../app/main.ts";
import { AZURE_LATENCY_PROFILE } from "../emulators/azure/latency.ts";
import { DEFAULT_KUBELET_TIMING } from "../emulators/kubernetes/controllers/kubelet.ts";
import { SlackRequestClient } from "../emulators/slack/client.ts";
import { startSlackWebApi } from "../emulators/slack/web-api.ts";
import { WORKSHOP_CONCURRENCY } from "../jobs/processors/workshop-create.ts";
import { CREATE_STEPS, HOSTED_CREATE_STEPS } from "../src/labs/create-plan.ts";
import { HOST_CREATE_STEPS } from "../src/labs/host-plan.ts";
import { createLogger } from "../src/log.ts";
import type { LabRecord } from "../src/ports/registry.ts";
import { REDIS_URL, TEST_BOT_TOKEN, TEST_SIGNING_SECRET, waitFor } from "../test/helpers/env.ts";
import { dropPrefix } from "../test/helpers/sinks.ts";
import { startTestWorld } from "../test/helpers/world.ts";
import { criticalPath, labStepDurations } from "./lib/critical-path.ts";
import { log, out, setting } from "./lib/report.ts";

/**
 * Labs on a host cluster (issue 16), through the real bot (web, worker and
 * watcher roles) against the emulated Azure and AKS at BENCH_TIME_SCALE (5):
 * - `workshop.lab_on_host`: one lab on a host against one dedicated lab on
 *   the same emulators, each as the plan's wall time from its first step to
 *   its last, reported in Azure-equivalent time (wall × time scale) next to
 *   the critical path of each step graph under the latency profile; goal: a
 *   lab on a host ready within 3 minutes of Azure time;
 * - `workshop.teams`: `workshop create` of BENCH_TEAMS (30) teams on a ready
 *   host, from the command to the last team ready, in Azure-equivalent time;
 *   goal: within 10 minutes, no failed team, no chat 429, no ARM 429, and
 *   the host's watch count independent of the number of teams (one per kind).
 * Run: `npm run bench -- workshop`.
 */

// 5, not the other benches' 10 or 20: thirty teams at once are CPU on this machine, and wall × scale
// multiplies CPU time too (at 20 the same run reads about 17 to 20 minutes of Azure time).
const TIME_SCALE = setting("BENCH_TIME_SCALE", 5);
const TEAMS = setting("BENCH_TEAMS", 30);
const ADMIN = "U0BENCHADMIN";
const CHANNEL = "C0BENCHWS";

const world = await startTestWorld(TIME_SCALE);
// Slack's limits at the world's pace, as the bot paces itself (the test world's Slack counts in real time).
const slackApi = await startSlackWebApi({ botToken: TEST_BOT_TOKEN, timeScale: TIME_SCALE });
const env = world.env({
  SLACK_API_URL: slackApi.url,
  LABOPS_ROLE: "web,worker,watcher",
  LABOPS_LOG_LEVEL: "warn",
  LABOPS_ADMINS: `slack:${ADMIN}`,
  // workshop create is held by the cap on all labs: room for every team, the two single labs and a spare.
  LABOPS_MAX_LABS: String(Math.max(40, TEAMS + 3)),
});
const prefix = String(env.LABOPS_REDIS_PREFIX);
const logger = createLogger({ level: "warn", destination: process.stderr });
const bot = await startLabops({ env, logger, host: "127.0.0.1" });
const redis = new Redis(REDIS_URL);
const registry = new RedisLabRegistry(redis, prefix);
const hosts = redisHostRegistry(redis, prefix);
const slack = new SlackRequestClient(`http://127.0.0.1:${bot.port}/slack/events`, TEST_SIGNING_SECRET);

const durations = labStepDurations(AZURE_LATENCY_PROFILE, DEFAULT_KUBELET_TIMING);
const dedicatedModel = criticalPath(CREATE_STEPS, durations);
const hostedModel = criticalPath(HOSTED_CREATE_STEPS, durations);
const hostModel = criticalPath(HOST_CREATE_STEPS, durations);
log("bench.workshop.model", { dedicated: dedicatedModel, hosted: hostedModel, host: hostModel });

async function say(command: string, text: string): Promise<void> {
  const res = await slack.slashCommand({ command, text, channel: CHANNEL, user: ADMIN, userName: "bench" });
  if (res.status !== 200 || !/Queued/.test(res.body))
    throw new Error(`${command} ${text} not queued: ${res.body}`);
}

/** A plan's wall time: from its first step's start to its last step's end, as the record keeps them. */
function planMs(record: Pick<LabRecord, "steps">): number {
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  for (const s of Object.values(record.steps ?? {})) {
    first = Math.min(first, s.finishedAt - s.durationMs);
    last = Math.max(last, s.finishedAt);
  }
  return last - first;
}

async function ready(lab: string, timeoutMs: number): Promise<LabRecord> {
  return waitFor(
    async () => {
      const r = await registry.get(lab);
      if (r?.state === "failed")
        throw new Error(`lab ${lab} failed at ${r.lastError?.step}: ${r.lastError?.code}`);
      return r?.state === "ready" ? r : undefined;
    },
    `lab ${lab} ready`,
    timeoutMs,
    50,
  );
}

const azure = (ms: number) => Math.round((ms * TIME_SCALE) / 1000);
const minutes = (ms: number) => Math.round(((ms * TIME_SCALE) / 60_000) * 100) / 100;

try {
  await say("/host", "create bench --nodes 4");
  const host = await waitFor(
    async () => {
      const h = await hosts.get("bench");
      if (h?.state === "failed") throw new Error(`host failed: ${h.lastError?.code}`);
      return h?.state === "ready" ? h : undefined;
    },
    "host bench ready",
    (20 * 60_000) / TIME_SCALE + 60_000,
    50,
  );

  // One lab on the host, then one dedicated lab, one after the other on the same emulators.
  await say("/lab", "create solo --on bench");
  const hosted = planMs(await ready("solo", (10 * 60_000) / TIME_SCALE + 60_000));
  await say("/lab", "create dedicated");
  const dedicated = planMs(await ready("dedicated", (20 * 60_000) / TIME_SCALE + 60_000));
  out({
    bench: "workshop.lab_on_host",
    time_scale: TIME_SCALE,
    host_plan_azure_s: azure(planMs(host)),
    host_critical_path_azure_s: Math.round(hostModel.totalMs / 1000),
    on_host_wall_ms: hosted,
    on_host_azure_s: azure(hosted),
    on_host_critical_path_azure_s: Math.round(hostedModel.totalMs / 1000),
    on_host_critical_path: hostedModel.path.join(" > "),
    dedicated_wall_ms: dedicated,
    dedicated_azure_s: azure(dedicated),
    dedicated_critical_path_azure_s: Math.round(dedicatedModel.totalMs / 1000),
    speedup: Math.round((dedicated / hosted) * 100) / 100,
    goal: "a lab on a host ready within 3 minutes of Azure time",
    met: minutes(hosted) <= 3,
  });

  const armBefore = world.cloud.azure.stats().throttled;
  const started = Date.now();
  await say("/workshop", `create ws --teams ${TEAMS} --on bench`);
  const labs = Array.from({ length: TEAMS }, (_, i) => `ws-${i + 1}`);
  const settled = await waitFor(
    async () => {
      const records = await Promise.all(labs.map((l) => registry.get(l)));
      return records.every((r) => r?.state === "ready" || r?.state === "failed") ? records : undefined;
    },
    `the workshop's ${TEAMS} labs settled`,
    (60 * 60_000) / TIME_SCALE + 120_000,
    100,
  );
  const wallMs = Date.now() - started;
  const failed = settled.filter((r) => r?.state !== "ready").map((r) => r?.name);
  // Each team's own plan time: slower than one lab alone means contention, not waves.
  const teamMs = settled.map((r) => (r ? planMs(r) : 0)).sort((a, b) => a - b);
  const limited = slackApi.calls.filter((c) => c.status === 429);
  const chat429 = limited.length;
  const chat429Methods = [...new Set(limited.map((c) => c.method))];
  const arm429 = world.cloud.azure.stats().throttled - armBefore;
  // The watcher takes the labs as it sees them ready; give it a moment, then count the host's watches.
  await new Promise((r) => setTimeout(r, 3_000));
  const watches = world.cloud.kube.cluster("host-bench-aks")?.inventory().watches;
  out({
    bench: "workshop.teams",
    time_scale: TIME_SCALE,
    teams: TEAMS,
    wall_ms: wallMs,
    azure_min: minutes(wallMs),
    one_lab_critical_path_azure_s: Math.round(hostedModel.totalMs / 1000),
    team_plan_azure_s: {
      p50: azure(teamMs[Math.floor(teamMs.length / 2)] ?? 0),
      max: azure(teamMs.at(-1) ?? 0),
    },
    waves: Math.ceil(TEAMS / WORKSHOP_CONCURRENCY),
    failed_teams: failed,
    chat_429: chat429,
    chat_429_methods: chat429Methods,
    arm_429: arm429,
    host_watches: watches,
    goal: "within 10 minutes of Azure time, no failed team, no chat 429, no ARM 429, host watches independent of teams (6)",
    met: minutes(wallMs) <= 10 && failed.length === 0 && chat429 === 0 && arm429 === 0 && watches === 6,
  });
} finally {
  await bot.stop();
  await dropPrefix(redis, prefix);
  await slackApi.close();
  await world.stop();
}
