import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { KubeClusterPort } from "../adapters/kubernetes/cluster.ts";
import { RedisLabRegistry } from "../adapters/redis/registry.ts";
import { startLabops } from "../app/main.ts";
import { createAzurePorts } from "../app/workflows.ts";
import { AZURE_LATENCY_PROFILE } from "../emulators/azure/latency.ts";
import { DEFAULT_KUBELET_TIMING } from "../emulators/kubernetes/controllers/kubelet.ts";
import { SlackRequestClient } from "../emulators/slack/client.ts";
import { COMMANDS_QUEUE } from "../jobs/queue.ts";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import { CREATE_STEPS, createLabPlan, DEFAULT_LAB_SHAPE } from "../src/labs/create-plan.ts";
import { labNames } from "../src/labs/naming.ts";
import { runPlan, type Step, type StepEvent } from "../src/labs/runner.ts";
import { createLogger } from "../src/log.ts";
import { REDIS_URL, TEST_SIGNING_SECRET, waitFor } from "../test/helpers/env.ts";
import { dropPrefix } from "../test/helpers/sinks.ts";
import { startTestWorld } from "../test/helpers/world.ts";
import { criticalPath, labStepDurations, sequentialTotal } from "./lib/critical-path.ts";
import { log, out, setting } from "./lib/report.ts";

/**
 * One `lab create` through the real bot (web and worker roles: Slack
 * command, intake, BullMQ, the lab-create processor with its cards and
 * checkpoints) against the emulated Azure and AKS at BENCH_TIME_SCALE (10),
 * compared with:
 * - the critical path of the step graph (CREATE_STEPS) under the emulators'
 *   latency profiles (bench/lib/critical-path.ts), scaled like the emulators;
 *   goal: wall time within 10% of it;
 * - the reference lab (the hands-on workshop labops automates) replayed at the same time, on
 *   the same emulators: the same step functions one at a time in its order
 *   (rg, aks, creds, reloader, kv, mi, role-mi, role-bot, fic, secrets, then
 *   its `az aks enable-addons` as a second cluster PUT, workload, verify);
 *   goal: labops at least 1.5x faster.
 * Run: `npm run bench -- lab-create`.
 */

const TIME_SCALE = setting("BENCH_TIME_SCALE", 10);
const REFERENCE_ORDER = [
  "rg",
  "aks",
  "creds",
  "reloader",
  "kv",
  "mi",
  "role-mi",
  "role-bot",
  "fic",
  "secrets",
  "addon",
  "workload",
  "verify",
];

const world = await startTestWorld(TIME_SCALE);
const env = world.env({ LABOPS_ROLE: "web,worker", LABOPS_LOG_LEVEL: "warn" });
const config = loadConfig(env);
const prefix = config.redisPrefix;
const logger = createLogger({ level: "warn", destination: process.stderr });
const bot = await startLabops({ env, logger, host: "127.0.0.1" });
const redis = new Redis(REDIS_URL);
const registry = new RedisLabRegistry(redis, prefix);
const queue = new Queue(COMMANDS_QUEUE, { connection: redis, prefix });

const durations = labStepDurations(AZURE_LATENCY_PROFILE, DEFAULT_KUBELET_TIMING);
const model = criticalPath(CREATE_STEPS, durations);
const criticalMs = model.totalMs / TIME_SCALE;
const referenceModelMs = sequentialTotal(REFERENCE_ORDER, durations) / TIME_SCALE;
log("bench.lab_create.model", { criticalMs, path: model.path, referenceModelMs });

/** labops itself: a signed slash command, then the worker's job until the lab is ready. */
async function viaBot(): Promise<{ jobMs: number; planMs: number; steps: Record<string, number> }> {
  const slack = new SlackRequestClient(`http://127.0.0.1:${bot.port}/slack/events`, TEST_SIGNING_SECRET);
  const res = await slack.slashCommand({ command: "/lab", text: "create bench-par", channel: "C0BENCHLAB" });
  if (res.status !== 200 || !/Queued/.test(res.body)) throw new Error(`command not queued: ${res.body}`);
  const ready = await waitFor(
    async () => {
      const r = await registry.get("bench-par");
      if (r?.state === "failed") throw new Error(`lab create failed: ${JSON.stringify(r.steps)}`);
      return r?.state === "ready" ? r : undefined;
    },
    "lab bench-par ready",
    (20 * 60_000) / TIME_SCALE + 60_000,
    50,
  );
  const job = await waitFor(
    async () => (await queue.getJobs(["completed"])).find((j) => j.name === "lab.create"),
    "the lab.create job completed",
  );
  const steps: Record<string, number> = {};
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  for (const [name, s] of Object.entries(ready.steps ?? {})) {
    steps[name] = s.durationMs;
    first = Math.min(first, s.finishedAt - s.durationMs);
    last = Math.max(last, s.finishedAt);
  }
  return { jobMs: (job.finishedOn ?? 0) - (job.processedOn ?? 0), planMs: last - first, steps };
}

/** The reference's order: the same step functions, each waiting for the one before. */
async function referenceOrder(): Promise<{ wallMs: number; steps: Record<string, number> }> {
  const clock = systemClock(TIME_SCALE);
  const { azure, keyVault } = createAzurePorts(config, { clock });
  const lab = "bench-seq";
  const input = {
    lab,
    location: world.cloud.azure.location,
    subscriptionId: world.cloud.azure.subscriptionId,
    tenantId: world.cloud.azure.tenantId,
    tags: { "labops-lab": lab },
    ...DEFAULT_LAB_SHAPE,
  };
  const plan = createLabPlan(input, { azure, keyVault, cluster: new KubeClusterPort(), clock });
  const names = labNames(lab);
  const aks = plan.steps.find((s) => s.name === "aks");
  if (!aks) throw new Error("no aks step");
  // `az aks enable-addons` after the fact: the same cluster PUT again, which Azure runs as an update.
  const addon: Step = {
    name: "addon",
    label: "Key Vault CSI addon (second cluster update)",
    dependsOn: [],
    ...(aks.retry ? { retry: aks.retry } : {}),
    async run({ signal }) {
      await azure.ensureCluster(
        {
          resourceGroup: names.resourceGroup,
          name: names.cluster,
          location: input.location,
          nodeCount: input.nodeCount,
          vmSize: input.vmSize,
          // A changed setting makes the port PUT again (it skips a cluster that already matches).
          rotationPollInterval: "2m",
          tags: input.tags,
        },
        signal,
      );
      return {};
    },
  };
  const byName = new Map([...plan.steps, addon].map((s) => [s.name, s]));
  const chained = REFERENCE_ORDER.map((name, i) => {
    const step = byName.get(name);
    if (!step) throw new Error(`no step ${name}`);
    return { ...step, dependsOn: i === 0 ? [] : [REFERENCE_ORDER[i - 1] as string] };
  });
  const steps: Record<string, number> = {};
  const started = Date.now();
  try {
    await runPlan(chained, {
      signal: new AbortController().signal,
      logger: createLogger({ level: "silent" }),
      clock,
      checkpoints: { done: {}, save: async () => undefined },
      onEvent: (e: StepEvent) => {
        if (e.type === "finished") steps[e.step] = e.durationMs;
      },
    });
  } finally {
    plan.dispose();
  }
  return { wallMs: Date.now() - started, steps };
}

try {
  const [labops, reference] = await Promise.all([viaBot(), referenceOrder()]);
  const wallOverCritical = labops.jobMs / criticalMs;
  out({
    bench: "lab_create.critical_path",
    time_scale: TIME_SCALE,
    wall_ms: labops.jobMs,
    plan_ms: labops.planMs,
    critical_path_ms: Math.round(criticalMs),
    critical_path: model.path.join(" > "),
    wall_over_critical: Math.round(wallOverCritical * 1000) / 1000,
    steps_ms: labops.steps,
    goal: "wall within 10% of the critical path",
    met: wallOverCritical <= 1.1,
  });
  const speedup = reference.wallMs / labops.jobMs;
  out({
    bench: "lab_create.vs_reference",
    time_scale: TIME_SCALE,
    labops_wall_ms: labops.jobMs,
    reference_wall_ms: reference.wallMs,
    reference_model_ms: Math.round(referenceModelMs),
    speedup: Math.round(speedup * 100) / 100,
    // Without the reference's second cluster update: what running the same steps at once alone gains.
    speedup_without_addon_update:
      Math.round(((reference.wallMs - (reference.steps.addon ?? 0)) / labops.jobMs) * 100) / 100,
    reference_steps_ms: reference.steps,
    goal: "labops at least 1.5x faster than the reference's sequential order",
    met: speedup >= 1.5,
  });
} finally {
  await bot.stop();
  await dropPrefix(redis, prefix, queue);
  await world.stop();
}
process.exit(0);
