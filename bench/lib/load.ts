import { type Agent, request } from "node:http";
import { log } from "./report.ts";
import { type LatencySummary, ratio, summarize } from "./stats.ts";

/** One prepared HTTP POST: everything but the moment it is sent. */
export interface PreparedPost {
  headers: Record<string, string>;
  body: string;
}

/** Status and milliseconds from the first byte written to the whole answer read. */
export interface Timed {
  status: number;
  ms: number;
}

/** POSTs over a keep-alive agent, as Slack and Teams keep their connections to a bot open. */
export function timedPost(agent: Agent, url: URL, post: PreparedPost): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: { ...post.headers, "content-length": String(Buffer.byteLength(post.body)) },
      },
      (res) => {
        res.on("data", () => undefined);
        res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(post.body);
  });
}

export interface LoadTarget {
  name: string;
  /** Sends request `i` of round `round` and times it; requests are prepared before the round starts. */
  prepare(round: number, i: number): Promise<() => Promise<Timed>> | (() => Promise<Timed>);
  /**
   * CPU microseconds used so far by the process that serves this target, when
   * it is not this one: the round's CPU is then that process's alone.
   */
  cpuMicros?(): Promise<number>;
}

export interface LoadOptions {
  concurrency: number;
  rounds: number;
  warmupRounds: number;
}

export interface LoadResult {
  latency: LatencySummary;
  /** Answers other than 200: the bench reports them and fails the bar. */
  non200: number;
  sent: number;
  /**
   * CPU time (user + system) per request over the measured rounds: of this
   * process, client side included, or of the target's own process when it
   * says (LoadTarget.cpuMicros). Steadier than latency on a loaded machine.
   */
  cpuPerRequestMs: number;
  /** Every measured latency (ms), in the order the rounds ran, to merge targets that are one system. */
  samples: number[];
  /** CPU microseconds over the measured rounds (what `cpuPerRequestMs` divides). */
  cpuMicros: number;
}

/**
 * Rounds of `concurrency` requests sent at once, targets interleaved round by
 * round so that drift on a shared machine hits them alike. Warm-up rounds are
 * sent and thrown away.
 */
export async function concurrentRounds(
  targets: readonly LoadTarget[],
  options: LoadOptions,
): Promise<Map<string, LoadResult>> {
  const samples = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const non200 = new Map<string, number>(targets.map((t) => [t.name, 0]));
  const cpuMicros = new Map<string, number>(targets.map((t) => [t.name, 0]));
  for (let round = 0; round < options.warmupRounds + options.rounds; round += 1) {
    for (const target of targets) {
      const sends = await Promise.all(
        Array.from({ length: options.concurrency }, (_, i) => target.prepare(round, i)),
      );
      const served = await target.cpuMicros?.();
      const cpu = process.cpuUsage();
      const results = await Promise.all(sends.map((send) => send()));
      const here = process.cpuUsage(cpu);
      const used =
        served === undefined || !target.cpuMicros
          ? here.user + here.system
          : (await target.cpuMicros()) - served;
      const bad = results.filter((r) => r.status !== 200).length;
      if (round < options.warmupRounds) continue;
      samples.get(target.name)?.push(...results.map((r) => r.ms));
      cpuMicros.set(target.name, (cpuMicros.get(target.name) ?? 0) + used);
      non200.set(target.name, (non200.get(target.name) ?? 0) + bad);
      const worst = Math.max(...results.map((r) => r.ms));
      log("bench.round", { target: target.name, round, worstMs: Math.round(worst), non200: bad });
    }
  }
  const result = new Map<string, LoadResult>();
  for (const t of targets) {
    const s = samples.get(t.name) ?? [];
    result.set(t.name, {
      latency: summarize(s),
      non200: non200.get(t.name) ?? 0,
      sent: s.length,
      cpuPerRequestMs: Math.round(((cpuMicros.get(t.name) ?? 0) / 1000 / Math.max(1, s.length)) * 100) / 100,
      samples: s,
      cpuMicros: cpuMicros.get(t.name) ?? 0,
    });
  }
  return result;
}

/**
 * Two targets that are one system (the same app, taken in turn), as one
 * result: samples joined, CPU summed; over several runs' results (pairs of
 * processes, lib/ack-child.ts), all of them pooled.
 */
export function mergedResult(
  results: ReadonlyMap<string, LoadResult> | readonly ReadonlyMap<string, LoadResult>[],
  a: string,
  b: string,
): { latency: LatencySummary; non200: number; cpuPerRequestMs: number } {
  const runs = results instanceof Map ? [results] : (results as readonly ReadonlyMap<string, LoadResult>[]);
  const samples: number[] = [];
  let cpuMicros = 0;
  let non200 = 0;
  for (const run of runs) {
    const [x, y] = [run.get(a), run.get(b)];
    if (!x || !y) throw new Error(`missing results of ${a} or ${b}`);
    samples.push(...x.samples, ...y.samples);
    cpuMicros += x.cpuMicros + y.cpuMicros;
    non200 += x.non200 + y.non200;
  }
  const cpu = cpuMicros / 1000 / Math.max(1, samples.length);
  return { latency: summarize(samples), non200, cpuPerRequestMs: Math.round(cpu * 1000) / 1000 };
}

/** The latency figures of a bot against its bare app, as the ack benches print them. */
export function botAndBareLatency(
  bot: { latency: LatencySummary },
  bare: { latency: LatencySummary },
): Record<string, number> {
  return {
    bot_p50_ms: bot.latency.p50,
    bot_p99_ms: bot.latency.p99,
    bot_max_ms: bot.latency.max,
    bare_p50_ms: bare.latency.p50,
    bare_p99_ms: bare.latency.p99,
    bare_max_ms: bare.latency.max,
    ratio_p50: ratio(bot.latency.p50, bare.latency.p50),
    ratio_p99: ratio(bot.latency.p99, bare.latency.p99),
  };
}
