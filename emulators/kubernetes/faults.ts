// The Azure emulator's id source holds the seeded generator (mulberry32); one generator for both
// emulators keeps "the same seed gives the same draws" meaning one thing across the world.
import { createIdSource, type IdSource } from "../azure/random.ts";
import {
  DEFAULT_CHAOS_STATUSES,
  drawChaos,
  type ChaosOptions as SharedChaosOptions,
  validateChaos,
} from "../shared/chaos.ts";
import type { StatusBody } from "./errors.ts";

/**
 * Random failures for soak tests: the shared chaos mode
 * (`emulators/shared/chaos.ts`), drawn for each regular API request of every
 * cluster, as an overloaded API server would answer; 429 carries
 * `Retry-After: 1`. Statuses are among 429, 500 and 503.
 */
export type ChaosOptions = SharedChaosOptions;

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

export const CHAOS_STATUS_CODES: readonly number[] = DEFAULT_CHAOS_STATUSES;

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
    validateChaos(options, CHAOS_STATUS_CODES);
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
   * Draws for one regular request (`drawChaos`, the Azure emulator's order,
   * so seeds behave alike) and answers as the kube-apiserver would.
   */
  decide(cluster: string, method: string, path: string): ChaosDecision | undefined {
    const chaos = this.#chaos;
    if (!chaos) return undefined;
    const draw = drawChaos(chaos.options, chaos.source);
    if (!draw) return undefined;
    const decision: ChaosDecision = { delayMs: draw.delayMs };
    if (draw.status !== undefined) {
      const code = draw.status;
      const make = CHAOS_STATUSES[code] ?? CHAOS_STATUSES[500];
      if (!make) throw new Error("unreachable: 500 is always a chaos status");
      this.#counts.failures += 1;
      this.#counts.failuresByStatus[String(code)] = (this.#counts.failuresByStatus[String(code)] ?? 0) + 1;
      this.#counts.failuresByCluster[cluster] = (this.#counts.failuresByCluster[cluster] ?? 0) + 1;
      decision.failure = {
        status: make(`${method.toUpperCase()} ${path}`),
        ...(code === 429 ? { retryAfterSeconds: 1 } : {}),
      };
    }
    if (draw.delayMs > 0) {
      this.#counts.delays += 1;
      this.#counts.delayedMs += draw.delayMs;
    }
    return decision;
  }
}
