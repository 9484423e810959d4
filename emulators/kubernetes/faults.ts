// The Azure emulator's id source holds the seeded generator (mulberry32); one generator for both
// emulators keeps "the same seed gives the same draws" meaning one thing across the world.
import { createIdSource, type IdSource } from "../azure/random.ts";
import type { StatusBody } from "./errors.ts";

/**
 * Random failures for soak tests, mirroring the Azure emulator's chaos mode
 * (`emulators/azure/faults.ts`): each regular API request of every cluster
 * fails with probability `rate`; with `latencyMs`, a share of the requests
 * (failed or not) is first held back a while, as an overloaded API server
 * would.
 */
export interface ChaosOptions {
  rate: number;
  /** Seeds the draw so a run can be replayed; the emulator's seed (or random) when absent. */
  seed?: number;
  /** Statuses drawn from: 429, 500 and 503 (the default, all three); 429 carries `Retry-After: 1`. */
  statuses?: number[];
  /** Extra latency drawn uniformly from [min, max] emulated ms (divided by the time scale). */
  latencyMs?: [number, number];
  /** Share of requests that get the extra latency; every request when absent (only with `latencyMs`). */
  latencyRate?: number;
}

/** What chaos mode has done so far (kept across `setChaos` calls). */
export interface ChaosCounts {
  /** Requests answered with a drawn error status. */
  failures: number;
  /** Requests held back by drawn latency. */
  delays: number;
  /** The drawn latency summed, in emulated ms. */
  delayedMs: number;
  /** Failures per status ("429", "500", "503"). */
  failuresByStatus: Record<string, number>;
  /** Failures per cluster name, to tell that every cluster took its share. */
  failuresByCluster: Record<string, number>;
  /** Long-running requests (watches, pods/proxy, pods/log) chaos left alone; see `isLongRunning`. */
  spared: number;
}

export interface ChaosDecision {
  /** Emulated ms to wait first. */
  delayMs: number;
  failure?: { status: StatusBody; retryAfterSeconds?: number };
}

/** The kube-apiserver's reason per status, as apimachinery's errors package writes them. */
const CHAOS_STATUSES: Record<number, (what: string) => StatusBody> = {
  // apimachinery's NewTooManyRequests, as the storage layer answers ("storage is (re)initializing").
  // The APF/max-in-flight filter's own 429 is plain text with the same message; a Status body is
  // what a client must read either way, and Retry-After is a header in both.
  429: () => ({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: "Too many requests, please try again later.",
    reason: "TooManyRequests",
    details: { retryAfterSeconds: 1 },
    code: 429,
  }),
  // NewInternalError: the message is prefixed and repeated as a cause.
  500: (what) => ({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `Internal error occurred: chaos mode: ${what}`,
    reason: "InternalError",
    details: { causes: [{ message: `chaos mode: ${what}` }] },
    code: 500,
  }),
  // NewServiceUnavailable, as when etcd or an aggregated API is away.
  503: () => ({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: "the server is currently unable to handle the request",
    reason: "ServiceUnavailable",
    code: 503,
  }),
};

export const CHAOS_STATUS_CODES: readonly number[] = [429, 500, 503];

/**
 * Whether the kube-apiserver treats the request as long-running
 * (`BasicLongRunningRequestCheck(["watch", "proxy"], ["attach", "exec",
 * "proxy", "log", "portforward"])`). Under overload the API server does not
 * fail or cut these: the max-in-flight filter exempts them outright, and API
 * Priority and Fairness serves non-watch long-running requests untracked and
 * holds a watch's seat only while it initialises; an established stream is
 * never ended for load. So chaos spares them. (Streams that do end, on
 * `timeoutSeconds`, a restart or `dropWatches`, are modelled elsewhere, and
 * the bot's reflectors resume from them.)
 */
export function isLongRunning(path: string, query: URLSearchParams): boolean {
  const watch = query.get("watch");
  if (watch === "true" || watch === "1" || watch === "") return true;
  if (/^\/api\/v1\/watch(\/|$)/.test(path) || /^\/apis\/[^/]+\/[^/]+\/watch(\/|$)/.test(path)) return true;
  return /\/pods\/[^/]+\/(proxy|log|exec|attach|portforward)(\/|$)/.test(path);
}

function validate(options: ChaosOptions): void {
  if (!(options.rate >= 0 && options.rate <= 1)) {
    throw new RangeError(`chaos rate must be between 0 and 1, got ${options.rate}`);
  }
  for (const s of options.statuses ?? []) {
    if (!CHAOS_STATUS_CODES.includes(s)) {
      throw new RangeError(`chaos statuses must be among ${CHAOS_STATUS_CODES.join(", ")}, got ${s}`);
    }
  }
  if (options.latencyMs !== undefined) {
    const [min, max] = options.latencyMs;
    if (!(min >= 0 && max >= min)) {
      throw new RangeError(`chaos latencyMs must be [min, max] with 0 <= min <= max, got [${min}, ${max}]`);
    }
  }
  if (options.latencyRate !== undefined && !(options.latencyRate >= 0 && options.latencyRate <= 1)) {
    throw new RangeError(`chaos latencyRate must be between 0 and 1, got ${options.latencyRate}`);
  }
}

/**
 * Chaos mode for every cluster of one emulator: one draw sequence for all of
 * them, so a seed replays the same failures in the same order of requests
 * (with concurrent clusters the order of requests itself is the caller's).
 * Only the HTTP front consults it: the in-cluster controllers (deployment,
 * ReplicaSet, scheduler, kubelet, CSI driver, Reloader) call the store
 * directly and are never failed.
 */
export class KubeChaos {
  readonly #defaultSeed: number | undefined;
  #chaos: { options: ChaosOptions; source: IdSource } | undefined;
  #counts: ChaosCounts = {
    failures: 0,
    delays: 0,
    delayedMs: 0,
    failuresByStatus: {},
    failuresByCluster: {},
    spared: 0,
  };

  constructor(defaultSeed?: number) {
    this.#defaultSeed = defaultSeed;
  }

  setChaos(options: ChaosOptions | null): void {
    if (options === null) {
      this.#chaos = undefined;
      return;
    }
    validate(options);
    this.#chaos = { options: { ...options }, source: createIdSource(options.seed ?? this.#defaultSeed) };
  }

  get active(): boolean {
    return this.#chaos !== undefined;
  }

  get counts(): ChaosCounts {
    return {
      ...this.#counts,
      failuresByStatus: { ...this.#counts.failuresByStatus },
      failuresByCluster: { ...this.#counts.failuresByCluster },
    };
  }

  /** Counts a long-running request that chaos let through untouched (no draw, so the sequence is unchanged). */
  spare(): void {
    if (this.#chaos) this.#counts.spared += 1;
  }

  /**
   * Draws for one regular request: first whether it fails (and with which
   * status), then, with `latencyMs`, whether and how long it waits. The same
   * order as the Azure emulator's, so seeds behave alike.
   */
  decide(cluster: string, method: string, path: string): ChaosDecision | undefined {
    const chaos = this.#chaos;
    if (!chaos) return undefined;
    const { options, source } = chaos;
    let decision: ChaosDecision | undefined;
    if (source.next() < options.rate) {
      const statuses = options.statuses?.length ? options.statuses : CHAOS_STATUS_CODES;
      const code = statuses[Math.floor(source.next() * statuses.length)] ?? 500;
      const make = CHAOS_STATUSES[code] ?? CHAOS_STATUSES[500];
      if (!make) throw new Error("unreachable: 500 is always a chaos status");
      const status = make(`${method.toUpperCase()} ${path}`);
      this.#counts.failures += 1;
      this.#counts.failuresByStatus[String(code)] = (this.#counts.failuresByStatus[String(code)] ?? 0) + 1;
      this.#counts.failuresByCluster[cluster] = (this.#counts.failuresByCluster[cluster] ?? 0) + 1;
      decision = {
        delayMs: 0,
        failure: { status, ...(code === 429 ? { retryAfterSeconds: 1 } : {}) },
      };
    }
    if (options.latencyMs && source.next() < (options.latencyRate ?? 1)) {
      const [min, max] = options.latencyMs;
      const delayMs = min + source.next() * (max - min);
      if (delayMs > 0) {
        this.#counts.delays += 1;
        this.#counts.delayedMs += delayMs;
        decision = { ...(decision ?? {}), delayMs };
      }
    }
    return decision;
  }
}
