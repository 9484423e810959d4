import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { KubeConfig, Watch } from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { KubeClusterPort } from "../adapters/kubernetes/cluster.ts";
import { RedisLabRegistry } from "../adapters/redis/registry.ts";
import { createAzurePorts } from "../app/workflows.ts";
import { startSlackWebApi } from "../emulators/slack/web-api.ts";
import { startEmulatedCloud } from "../emulators/world.ts";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import { createLabPlan, DEFAULT_LAB_SHAPE, recordOutputs } from "../src/labs/create-plan.ts";
import { runPlan } from "../src/labs/runner.ts";
import { createLogger } from "../src/log.ts";
import type { LabRecord } from "../src/ports/registry.ts";
import { dropPrefix } from "../test/helpers/sinks.ts";

/**
 * The rotation watcher under load: BENCH_LABS labs (50) of BENCH_PODS pods
 * (20) each, provisioned by the lab plan itself against the emulators (no
 * chat, no queue), all watched by one watcher process of their own.
 *
 * Prints two JSON lines:
 * - watcher.footprint: the watcher process's heap and RSS growth (after a
 *   full GC) from before it started to once it watches every lab, the cost
 *   per lab between a fifth of the labs and all of them (what one more lab
 *   costs, without the modules and clients any watcher loads once), and its
 *   open watch streams (also as the emulator counts them);
 * - watcher.alert_delay: for rotations made behind labops' back, the time
 *   from the last new pod turning Ready (seen by an independent watch in this
 *   process) to the alert's chat.postMessage reaching the Slack emulator (its
 *   recorded call time). Goal: under 2 s.
 *
 * Logs go to stderr. Run: `npm run bench -- watcher` (or `node bench/watcher.ts`).
 */

const TIME_SCALE = Number(process.env.BENCH_TIME_SCALE ?? 100);
const LABS = Number(process.env.BENCH_LABS ?? 50);
const PODS = Number(process.env.BENCH_PODS ?? 20);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 6);
const CONCURRENCY = 10;
/** Labs rotated for the delay: their CSI driver polls every minute; the others every 30 (less emulator CPU). */
const LATENCY_LABS = Math.min(3, LABS);
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const BOT_TOKEN = "xoxb-bench-0000";

const log = (msg: string, extra: Record<string, unknown> = {}) =>
  process.stderr.write(`${JSON.stringify({ at: new Date().toISOString(), msg, ...extra })}\n`);
const out = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

const cloud = await startEmulatedCloud({ timeScale: TIME_SCALE });
const slack = await startSlackWebApi({ botToken: BOT_TOKEN, timeScale: TIME_SCALE });
const prefix = `bench-${randomBytes(4).toString("hex")}`;
const env: Record<string, string> = {
  ...cloud.env(),
  PORT: "0",
  REDIS_URL,
  LABOPS_REDIS_PREFIX: prefix,
  LABOPS_SECRET_KEY: randomBytes(32).toString("base64"),
  LABOPS_LOG_LEVEL: "warn",
  LABOPS_ROLE: "watcher",
  SLACK_SIGNING_SECRET: randomBytes(16).toString("hex"),
  SLACK_BOT_TOKEN: BOT_TOKEN,
  SLACK_API_URL: slack.url,
};
const config = loadConfig(env);
const clock = systemClock(TIME_SCALE);
const { azure, keyVault } = createAzurePorts(config, { clock });
const cluster = new KubeClusterPort();
const redis = new Redis(REDIS_URL);
const registry = new RedisLabRegistry(redis, prefix);
const silent = createLogger({ level: "silent" });
let child: ChildProcess | undefined;

async function provision(i: number): Promise<LabRecord> {
  const lab = `bench-${String(i).padStart(2, "0")}`;
  const plan = createLabPlan(
    {
      lab,
      location: cloud.azure.location,
      subscriptionId: cloud.azure.subscriptionId,
      tenantId: cloud.azure.tenantId,
      tags: { "labops-lab": lab },
      ...DEFAULT_LAB_SHAPE,
      replicas: PODS,
      rotationPollInterval: i < LATENCY_LABS ? "1m" : "30m",
    },
    { azure, keyVault, cluster, clock },
  );
  const outputs = await runPlan(plan.steps, {
    signal: new AbortController().signal,
    logger: silent,
    clock,
    checkpoints: { done: {}, save: async () => undefined },
  });
  plan.dispose();
  const flat: Record<string, string> = {};
  for (const [step, o] of Object.entries(outputs)) Object.assign(flat, recordOutputs(step, o));
  const now = Date.now();
  const record: LabRecord = {
    name: lab,
    state: "ready",
    owner: { platform: "slack", id: "U0BENCH", name: "bench" },
    address: { platform: "slack", tenant: "T0001", channel: `C0BENCH${i}` },
    location: cloud.azure.location,
    createdAt: now,
    updatedAt: now,
    expiresAt: now + 86_400_000,
    outputs: flat,
    steps: { verify: { outputs: {}, durationMs: 0, finishedAt: now } },
  };
  return record;
}

interface ChildStats {
  type: string;
  at: number;
  heapUsed: number;
  rss: number;
  openWatches?: number;
  labs?: number;
}

/** When each pod of `lab` first turns Ready, as an independent watch sees it. */
function observePods(lab: string) {
  const handle = cloud.kube.cluster(`lab-${lab}-aks`);
  if (!handle) throw new Error(`no cluster for ${lab}`);
  const kc = new KubeConfig();
  kc.loadFromString(handle.kubeconfig());
  const seen = new Map<string, { addedAt: number; readyAt?: number }>();
  let controller: AbortController | undefined;
  const started = Date.now();
  type Pod = {
    metadata?: { name?: string };
    status?: { conditions?: Array<{ type: string; status: string }> };
  };
  void new Watch(kc)
    .watch(
      "/api/v1/namespaces/secret-lab/pods",
      { labelSelector: "app=podinfo" },
      (type: string, pod: Pod) => {
        const name = pod.metadata?.name ?? "";
        const entry = seen.get(name) ?? { addedAt: type === "ADDED" ? Date.now() : started };
        const ready = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
        if (ready && entry.readyAt === undefined) entry.readyAt = Date.now();
        seen.set(name, entry);
      },
      () => undefined,
    )
    .then((c) => {
      controller = c;
    });
  return {
    /** The last Ready among pods created after `since`. */
    lastNewReady(since: number): number | undefined {
      const fresh = [...seen.values()].filter((e) => e.addedAt > since && e.readyAt !== undefined);
      return fresh.length === 0 ? undefined : Math.max(...fresh.map((e) => e.readyAt ?? 0));
    },
    stop: () => controller?.abort(),
  };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

try {
  const t0 = Date.now();
  const records: LabRecord[] = [];
  for (let i = 0; i < LABS; i += CONCURRENCY) {
    const batch = Array.from({ length: Math.min(CONCURRENCY, LABS - i) }, (_, k) => provision(i + k));
    records.push(...(await Promise.all(batch)));
    log("bench.provisioned", { labs: records.length });
  }
  log("bench.labs_ready", { labs: LABS, pods: LABS * PODS, ms: Date.now() - t0 });

  child = spawn(process.execPath, ["--expose-gc", "bench/lib/watcher-child.ts"], {
    cwd: new URL("..", import.meta.url).pathname,
    env: { ...env, PATH: process.env.PATH ?? "" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const samples: ChildStats[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    try {
      samples.push(JSON.parse(line) as ChildStats);
    } catch {
      process.stderr.write(`${line}\n`);
    }
  });
  const baseline = await until(
    "the watcher's baseline",
    () => samples.find((s) => s.type === "baseline"),
    30_000,
  );
  const mb = (b: number) => Math.round((b / 1_048_576) * 10) / 10;
  /** Registers labs, waits until the watcher holds them all with six watches each, then a few steady seconds. */
  const watchAll = async (labs: LabRecord[], total: number): Promise<ChildStats> => {
    for (const r of labs) await registry.create(r);
    const full = await until(
      `${total} labs watched`,
      () => samples.find((s) => s.labs === total && s.openWatches === 6 * total),
      180_000,
    );
    log("bench.watched", { labs: total, ms: full.at - baseline.at });
    await new Promise((r) => setTimeout(r, 5_000));
    return samples.filter((s) => s.type === "stats" && s.at >= full.at).at(-1) ?? full;
  };
  // Two points, so that the per-lab figure leaves out what any watcher pays once (modules, clients).
  const first = Math.max(1, Math.floor(LABS / 5));
  const few = await watchAll(records.slice(0, first), first);
  const steady = LABS > first ? await watchAll(records.slice(first), LABS) : few;
  out({
    bench: "watcher.footprint",
    timeScale: TIME_SCALE,
    labs: LABS,
    podsPerLab: PODS,
    openWatches: steady.openWatches,
    watchesPerLab: (steady.openWatches ?? 0) / LABS,
    emulatorOpenWatches: cloud.kube.inventory().totals.watches,
    heapBaselineMB: mb(baseline.heapUsed),
    heapDeltaMB: mb(steady.heapUsed - baseline.heapUsed),
    rssBaselineMB: mb(baseline.rss),
    rssDeltaMB: mb(steady.rss - baseline.rss),
    heapPerLabKB:
      LABS > first ? Math.round((steady.heapUsed - few.heapUsed) / (LABS - first) / 1024) : undefined,
    rssPerLabKB: LABS > first ? Math.round((steady.rss - few.rss) / (LABS - first) / 1024) : undefined,
  });

  const delays: number[] = [];
  const texts: string[] = [];
  for (let k = 0; k < SAMPLES; k++) {
    const record = records[k % LATENCY_LABS];
    if (!record) break;
    const observer = observePods(record.name);
    await new Promise((r) => setTimeout(r, 300));
    const writeAt = Date.now();
    const { version } = await cloud.azure.writeSecretAsOperator(
      record.outputs.vaultName ?? "",
      "color",
      `bench-${k}`,
    );
    const call = await until(
      `the alert for ${record.name}`,
      () =>
        slack.calls.find(
          (c) =>
            c.method === "chat.postMessage" &&
            c.at > writeAt &&
            String(c.args.text ?? "").includes(`color: ${version.slice(0, 8)} reached`),
        ),
      60_000,
    );
    const lastReady = await until(
      "the observer to see the pods",
      () => observer.lastNewReady(writeAt),
      5_000,
    );
    observer.stop();
    delays.push(call.at - lastReady);
    texts.push(String(call.args.text ?? "").split("\n")[0] ?? "");
    log("bench.sample", { lab: record.name, delayMs: call.at - lastReady, status: call.status });
  }
  const sorted = [...delays].sort((a, b) => a - b);
  const p50 = sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
  const max = sorted.at(-1) ?? Number.NaN;
  out({
    bench: "watcher.alert_delay",
    timeScale: TIME_SCALE,
    labsWatched: LABS,
    podsPerLab: PODS,
    samplesMs: delays,
    p50Ms: p50,
    maxMs: max,
    goalMs: 2_000,
    met: max < 2_000,
    example: texts[0],
  });
} finally {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child?.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    child.kill("SIGKILL");
  }
  await dropPrefix(redis, prefix);
  await slack.close();
  await cloud.stop();
}
process.exit(0);
