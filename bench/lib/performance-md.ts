import { existsSync, readFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";

/**
 * Renders docs/PERFORMANCE.md from the JSON lines of `npm run bench`:
 *
 *   npm run -s bench > /tmp/bench.jsonl
 *   node bench/lib/performance-md.ts /tmp/bench.jsonl > docs/PERFORMANCE.md
 *
 * One table per figure line, under what it measures, its goal and the command
 * that produced it; the machine is this one (run it where the bench ran).
 * `docs/performance/<bench>.md`, when there is one, follows its table: what
 * was measured by hand about that figure (profiles, runs before and after a
 * change), kept across renders.
 */

type Figures = Record<string, unknown>;

interface Section {
  title: string;
  /** The figure that answers the goal, in a few words. */
  headline: (f: Figures) => string;
  command: string;
  measures: string;
  goal: string;
}

const SECTIONS: Record<string, Section> = {
  "slack.ack": {
    headline: (f) =>
      `bot p99 ${f.bot_p99_ms} ms (bare ${f.bare_p99_ms} ms); CPU per command ×${f.ratio_cpu} the bare app's, median of ${f.pairs ?? 1} pairs (${f.ratio_cpu_pairs ?? f.ratio_cpu}; pooled ${f.bot_cpu_per_request_ms} vs ${f.bare_cpu_per_request_ms} ms); ${f.jobs_enqueued}/${f.jobs_expected} enqueued`,
    title: "Slack acknowledgement",
    command: "npm run bench -- slack-ack",
    measures:
      "100 signed `/lab create` slash commands sent at once over keep-alive HTTP, 20 rounds after 8 of warm-up, in the order bot, bare, bare, bot, to the bot's web role (Bolt receiver, intake, BullMQ enqueue in Redis) and to a bare Bolt app whose handler only calls `ack()`, each in a process of its own (the load generator in a third). Every round's requests are signed before the rounds, and each app collects its garbage then; the bot has first run 20 000 commands through intake, as a web role that has served for a minute. Latency is from the request's first byte to the whole HTTP 200 read. Every command is distinct; `jobs_enqueued` must equal `jobs_expected` (nothing was answered by a rejection or de-duplication path). `*_cpu_per_request_ms` is each app's own CPU time per request, read from its process around each of its rounds, and `*_gc_ms_per_request` its garbage collection. All of it 5 times, each with a new pair of processes (a process's CPU per command varies by several percent from one start to the next): `ratio_cpu` is the median of the pairs' ratios (`ratio_cpu_pairs`), the rest is pooled.",
    goal: "Issue 19: bot p99 under 70 ms on an idle machine (ARCHITECTURE.md's bar is 100 ms; Slack allows 3 s) and the bot's CPU per command at most 1.5× the bare app's, in the same run.",
  },
  "slack.ack.tracing": {
    headline: (f) =>
      `tracing on/off: CPU per request ×${f.ratio_cpu}, median of ${f.pairs ?? 1} pairs (${f.ratio_cpu_pairs ?? f.ratio_cpu}; pooled ${f.on_cpu_per_request_ms} vs ${f.off_cpu_per_request_ms} ms), p50 ×${f.ratio_p50}, p99 ×${f.ratio_p99}`,
    title: "Slack acknowledgement with tracing on",
    command: "npm run bench -- slack-ack",
    measures:
      "The slack.ack load (100 signed `/lab create` at once), 20 rounds after 8 of warm-up, sent to two web roles of the bot that differ only in tracing, each in a process of its own: off (NO_TRACING, as without OTEL_*) and on (the real SDK as OTEL_* sets it: batch processor, OTLP http/protobuf to a receiver in a third process), in the order off, on, on, off in every round. With tracing on each command makes one span, intake's, which is also the job's producer, and carries its trace context in the job (`context_in_job`). `*_cpu_per_request_ms` is each bot's own CPU time per request, read from its process around each of its rounds (not the load generator's). Before the rounds each bot runs 20 000 commands through intake on in-memory fakes (with its span, for the bot with tracing on) and collects its garbage, so the code runs compiled, as in a web role that has run for a minute (cold, in the first few hundred commands, V8 still interprets it). All of it 5 times, each with a new pair of bots: `ratio_cpu` is the median of the pairs' ratios (`ratio_cpu_pairs`), the rest is pooled.",
    goal: "Issue 20: the acknowledgement's cost (CPU per request) with tracing on within 10% of off; off is slack.ack's own figure, taken with NO_TRACING.",
  },
  "teams.ack": {
    headline: (f) =>
      `bot CPU per activity ×${f.ratio_cpu} the bare app's (${f.bot_cpu_per_request_ms} vs ${f.bare_cpu_per_request_ms} ms); bot p99 ${f.bot_p99_ms} ms (bare ${f.bare_p99_ms} ms); ${f.jobs_enqueued}/${f.jobs_expected} enqueued; answer p99 ${f.answer_p99_ms} ms (pacing floor ${f.answer_floor_ms} ms)`,
    title: "Teams acknowledgement",
    command: "npm run bench -- teams-ack",
    measures:
      "100 `lab create` activities @mentioning the bot, one channel and user each, a JWT minted by the Teams emulator for each, all built before the rounds, posted at once to `/api/messages` over keep-alive HTTP, 20 rounds after 8 of warm-up, in the order bot, bare, bare, bot, to the bot's web role and to a bare botbuilder `CloudAdapter` on express (the bot's authentication settings, empty turn), each in a process of its own; the emulator is the load generator's. The bot's turn is intake alone; its quick answer follows the 200 (ADR 0006), and each round starts once the bot's answers to the round before are out. `*_cpu_per_request_ms` is each app's own CPU per request, read from its process around each of its rounds; the bot's stops at the round's last 200 (`bot_cpu_with_answer_per_request_ms` runs until its answers to the round are out), and `*_gc_ms_per_request` is each app's garbage collection. Then 5 more rounds time what the user sees, from sending the message to the bot's answer in its thread; 100 answers at once in one tenant are paced by Teams' 30 calls a second per app (27 kept, plus the jitter margin per window, at the bench's time scale), whose floor `answer_floor_ms` is printed beside them.",
    goal: "Issue 19: the bot's CPU per activity to its 200 at most 1.2× the bare CloudAdapter app's (which answers nothing); with the Slack bar (p99 under 100 ms; ARCHITECTURE.md sets no separate Teams bar, Teams allows 15 s) for the ack, and answers within 1.5× the pacing floor.",
  },
  "queue.latency": {
    headline: (f) => `p50 ${f.enqueue_to_start_p50_ms} ms, p99 ${f.enqueue_to_start_p99_ms} ms`,
    title: "Queue: enqueue to start",
    command: "npm run bench -- queue",
    measures:
      "500 jobs enqueued through `BullCommandQueue` (sealed envelope, BullMQ add) at 100 per second, below capacity, to the product's command worker at the configured concurrency with a processor that does nothing: time from the enqueue call to the processor's start.",
    goal: "No bar set; every job must complete.",
  },
  "queue.throughput": {
    headline: (f) => `${f.jobs_per_s} jobs/s`,
    title: "Queue: jobs per second",
    command: "npm run bench -- queue",
    measures:
      "2000 jobs enqueued at once through the same path: jobs per second from the first enqueue to the last completion, and how long jobs waited in that backlog.",
    goal: "No bar set; every job must complete.",
  },
  "lab_create.critical_path": {
    headline: (f) => `${f.wall_ms} ms vs ${f.critical_path_ms} ms (×${f.wall_over_critical})`,
    title: "Lab create vs the critical path",
    command: "npm run bench -- lab-create",
    measures:
      "One `/lab create` through the bot (web and worker roles, real processors, cards, checkpoints) against the emulated Azure and AKS at time scale 10, timed by its BullMQ job (processedOn to finishedOn). The critical path is computed over `CREATE_STEPS` from `emulators/azure/latency.ts` and the kubelet timings (`bench/lib/critical-path.ts`) and divided by the time scale. Per-step durations (ms) come from the lab record.",
    goal: "ARCHITECTURE.md quality bar: wall time within 10% of the critical path.",
  },
  "lab_create.vs_reference": {
    headline: (f) => `×${f.speedup} (×${f.speedup_without_addon_update} without the addon update)`,
    title: "Lab create vs the reference's order",
    command: "npm run bench -- lab-create",
    measures:
      "The reference lab's order replayed at the same time on the same emulators, with the same step functions run one at a time: rg, aks, creds, reloader, kv, mi, role-mi, role-bot, fic, secrets, its `az aks enable-addons` (a second cluster PUT, which Azure runs as an update), workload, verify. `speedup_without_addon_update` leaves that second update out: what running independent steps at once gains by itself.",
    goal: "ARCHITECTURE.md quality bar: labops at least 1.5x faster than the reference's sequential order.",
  },
  burst: {
    headline: (f) =>
      `${f.completed}/${f.labs} ready, ${f.failed} failed, chat 429 ${f.chat_429}, ARM 429 ${Number(f.arm_429_writes) + Number(f.arm_429_reads)}, ${f.azure_writes_per_s} writes/s`,
    title: "Burst of 20 labs at Azure's limits",
    command: "npm run bench -- burst",
    measures:
      "20 `lab create` at once, 10 in one Slack channel and 10 in one Teams channel, through the chat emulators (platform limits enforced, 429s counted), the bot's web and worker roles with the real processors, and the emulated cloud at time scale 20 with ARM throttling at Azure's limits (token buckets refilled in emulated time). Every lab must end ready with its thread marked succeeded.",
    goal: "ARCHITECTURE.md quality bar: all complete, no 429 from the chat emulators.",
  },
  "burst.throttled": {
    headline: (f) =>
      `${f.completed}/${f.labs} ready, ${f.failed} failed, chat 429 ${f.chat_429}, ARM 429 ${Number(f.arm_429_writes) + Number(f.arm_429_reads)}, ${f.azure_writes_per_s} writes/s`,
    title: "Burst of 20 labs under tightened ARM limits",
    command: "npm run bench -- burst",
    measures:
      "The same burst with the ARM buckets tightened (see `arm_limits`, emulated time) so that 429s must be ridden out: the Azure SDK retries on Retry-After, and steps wait out throttling without using up their attempts.",
    goal: "All complete, no chat 429, ARM 429s observed.",
  },
  "watcher.footprint": {
    headline: (f) => `${f.heapPerLabKB} KB heap per lab, ${f.openWatches} watches for ${f.labs} labs`,
    title: "Watcher footprint",
    command: "npm run bench -- watcher",
    measures:
      "The rotation watcher in its own process watching 50 labs of 20 pods: heap and RSS growth after a full GC, the cost per lab between a fifth of the labs and all of them, and its open watch streams (also as the AKS emulator counts them).",
    goal: "No bar set.",
  },
  "watcher.alert_delay": {
    headline: (f) => `p50 ${f.p50Ms} ms, max ${f.maxMs} ms`,
    title: "Rotation alert delay",
    command: "npm run bench -- watcher",
    measures:
      "Over 6 rotations written outside labops while 50 labs are watched: the time from the last new pod turning Ready (seen by an independent watch) to the alert's `chat.postMessage` reaching the Slack emulator.",
    goal: "ARCHITECTURE.md quality bar: posted within 2 s of the last new pod becoming ready.",
  },
};

/** What the figures mean beyond their tables; true whatever the numbers of a run. */
const NOTES = [
  "Reading the figures:",
  "",
  "- The ack latencies move most with the machine's load (each figure carries the 1-minute load",
  "  average it was taken under; the bare apps' figures, taken in the same rounds, show it too).",
  "  Compare the bot/bare ratios across runs rather than the absolute numbers.",
  "- Every emulator runs in the bench's own process, so its CPU counts against the bot's latency.",
  "- Teams: the bot's acknowledgement is intake alone; its quick answer (an outbound HTTPS call with a",
  "  token, paced by the Redis limiter) follows the 200 and is timed apart, against the pacing floor.",
  "- Lab create: the emulators' latencies are divided by the time scale; what is left on top of the",
  "  critical path is polling granularity (LRO Retry-After in whole seconds, the verify poll) and the",
  "  bot's own work. The reference replay runs at the same time as labops' create, on the same emulators.",
  "- Bursts: the worker runs `LABOPS_WORKER_CONCURRENCY` (10) jobs at once, so 20 labs go in two waves.",
  "  Twenty labs stay within Azure's own ARM limits (no ARM 429 at them); `burst.throttled` tightens",
  "  the buckets to make the 429s happen and shows them ridden out.",
];

const file = process.argv[2];
if (!file) throw new Error("usage: node bench/lib/performance-md.ts BENCH_OUTPUT.jsonl");
const figures = readFileSync(file, "utf8")
  .split("\n")
  .filter((l) => l.startsWith("{"))
  .map((l) => JSON.parse(l) as Figures);

const cell = (v: unknown) =>
  (typeof v === "object" ? `\`${JSON.stringify(v)}\`` : String(v)).replace(/\|/g, "\\|");
const lines: string[] = [
  "# Performance",
  "",
  "Figures from `npm run bench` (see `bench/README.md`), rendered by",
  "`node bench/lib/performance-md.ts` from the run's JSON lines:",
  "",
  "```sh",
  "npm run -s bench > /tmp/bench.jsonl",
  "node bench/lib/performance-md.ts /tmp/bench.jsonl > docs/PERFORMANCE.md",
  "```",
  "",
  "Goals are the quality bars of docs/ARCHITECTURE.md. A missed bar shows `met: false` with its figure.",
  "",
  "## Machine",
  "",
  "| | |",
  "|---|---|",
  `| CPU | ${cpus().length} × ${cpus()[0]?.model ?? "unknown"} |`,
  `| RAM | ${Math.round(totalmem() / 2 ** 30)} GiB |`,
  `| Node | ${process.version} |`,
  `| Kernel (\`uname -r\`) | ${release()} |`,
  `| Date | ${new Date().toISOString().slice(0, 10)} |`,
  "",
];
lines.push("## Summary", "", "| bench | figure | met | goal | load (1 min) |", "|---|---|---|---|---|");
for (const f of figures) {
  const s = SECTIONS[String(f.bench)];
  const goal = f.goal ?? (f.goalMs !== undefined ? `under ${f.goalMs} ms` : "none");
  lines.push(
    `| ${cell(f.bench)} | ${cell(f.error ?? s?.headline(f) ?? "")} | ${cell(f.met ?? "n/a")} | ${cell(goal)} | ${cell(f.load_1m ?? "")} |`,
  );
}
lines.push("", ...NOTES, "");
for (const f of figures) {
  const name = String(f.bench);
  const s = SECTIONS[name];
  lines.push(`## ${s?.title ?? name}`, "");
  if (s) lines.push(s.measures, "", `Goal: ${s.goal}`, "", `Command: \`${s.command}\``, "");
  lines.push("| figure | value |", "|---|---|");
  for (const [k, v] of Object.entries(f)) if (k !== "bench") lines.push(`| ${k} | ${cell(v)} |`);
  lines.push("");
  const notes = new URL(`../../docs/performance/${name}.md`, import.meta.url);
  if (existsSync(notes)) lines.push(readFileSync(notes, "utf8").trimEnd(), "");
}
process.stdout.write(`${lines.join("\n")}`);
