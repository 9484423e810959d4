import { drawChaos, type ChaosOptions as SharedChaosOptions, validateChaos } from "../shared/chaos.ts";
import type { IdSource } from "./random.ts";

/** Which listener a request reached. */
export type FaultTarget = "arm" | "vault" | "authority";

/**
 * A planned failure: the next `count` calls matching `method` and `path` fail
 * with `status` (or are only delayed when no status is given).
 */
export interface FaultRule {
  /** HTTP method to match (case-insensitive); any when absent. */
  method?: string;
  /**
   * Matched against the request path (without query). A string is a regular
   * expression source matched case-insensitively, as ARM paths are (the
   * SDKs differ: `resourcegroups` or `resourceGroups`).
   */
  path: RegExp | string;
  /** How many matching calls the rule affects; 1 when absent. */
  count?: number;
  /** Status to answer with; when absent the call is only delayed and then served normally. */
  status?: number;
  /** Error code in the body; a usual one for the status when absent. */
  code?: string;
  message?: string;
  /** Sent verbatim as `Retry-After` (seconds, not scaled), so a test controls exactly what the client sees. */
  retryAfterSeconds?: number;
  /** Emulated milliseconds to wait before answering (divided by the time scale). */
  delayMs?: number;
  /** Listeners the rule applies to; all when absent. */
  targets?: FaultTarget[];
}

export interface PlannedFault extends FaultRule {
  id: string;
  remaining: number;
}

/**
 * Random failures for soak tests (the shared chaos mode): each matching call
 * fails with probability `rate`, as a slow or overloaded Azure front door
 * would; 429 and 503 carry `Retry-After: 1`.
 */
export interface ChaosOptions extends SharedChaosOptions {
  /** Listeners affected; ARM and the vaults when absent (token failures are rarely what a soak test wants). */
  targets?: FaultTarget[];
}

/** What chaos mode has done so far. */
export interface ChaosCounts {
  /** Calls answered with a drawn error status. */
  failures: number;
  /** Calls held back by drawn latency. */
  delays: number;
  /** The drawn latency summed, in emulated ms. */
  delayedMs: number;
  /** Failures per listener, to tell ARM's from the vaults'. */
  failuresByTarget: Record<FaultTarget, number>;
}

export interface FaultDecision {
  /** Emulated ms to wait first. */
  delayMs: number;
  failure?: { status: number; code: string; message: string; retryAfterSeconds?: number };
  source: "plan" | "chaos";
}

const DEFAULT_CODES: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  408: "RequestTimeout",
  409: "Conflict",
  429: "TooManyRequests",
  500: "InternalServerError",
  502: "BadGateway",
  503: "ServiceUnavailable",
  504: "GatewayTimeout",
};

export function defaultErrorCode(status: number): string {
  return DEFAULT_CODES[status] ?? (status >= 500 ? "InternalServerError" : "BadRequest");
}

function toRegExp(path: RegExp | string): RegExp {
  return typeof path === "string" ? new RegExp(path, "i") : path;
}

function validateRule(rule: FaultRule): void {
  if (
    rule.status !== undefined &&
    !(Number.isInteger(rule.status) && rule.status >= 400 && rule.status <= 599)
  ) {
    throw new RangeError(`fault status must be an HTTP error status (400-599), got ${rule.status}`);
  }
  if (rule.count !== undefined && !(Number.isInteger(rule.count) && rule.count > 0)) {
    throw new RangeError(`fault count must be a positive integer, got ${rule.count}`);
  }
  if (rule.delayMs !== undefined && !(rule.delayMs >= 0)) {
    throw new RangeError(`fault delayMs must be >= 0, got ${rule.delayMs}`);
  }
  if (rule.status === undefined && rule.delayMs === undefined) {
    throw new RangeError("a fault needs a status, a delayMs, or both");
  }
  toRegExp(rule.path);
}

export class FaultPlan {
  readonly #ids: IdSource;
  readonly #createChaosSource: (seed?: number) => IdSource;
  #rules: { rule: FaultRule; id: string; remaining: number; re: RegExp }[] = [];
  #chaos: { options: ChaosOptions; source: IdSource } | undefined;
  #injected = 0;
  #chaosCounts: ChaosCounts = {
    failures: 0,
    delays: 0,
    delayedMs: 0,
    failuresByTarget: { arm: 0, vault: 0, authority: 0 },
  };

  constructor(ids: IdSource, createChaosSource: (seed?: number) => IdSource) {
    this.#ids = ids;
    this.#createChaosSource = createChaosSource;
  }

  add(rule: FaultRule): string {
    validateRule(rule);
    const id = this.#ids.hex(6);
    this.#rules.push({ rule: { ...rule }, id, remaining: rule.count ?? 1, re: toRegExp(rule.path) });
    return id;
  }

  remove(id: string): boolean {
    const before = this.#rules.length;
    this.#rules = this.#rules.filter((r) => r.id !== id);
    return this.#rules.length !== before;
  }

  clear(): void {
    this.#rules = [];
  }

  list(): PlannedFault[] {
    return this.#rules.map((r) => ({
      ...r.rule,
      path: typeof r.rule.path === "string" ? r.rule.path : r.rule.path.source,
      id: r.id,
      remaining: r.remaining,
    }));
  }

  setChaos(options: ChaosOptions | null): void {
    if (options === null) {
      this.#chaos = undefined;
      return;
    }
    validateChaos(options);
    this.#chaos = { options: { ...options }, source: this.#createChaosSource(options.seed) };
  }

  /** Chaos failures and delays drawn so far (kept across `setChaos` calls). */
  get chaosCounts(): ChaosCounts {
    return { ...this.#chaosCounts, failuresByTarget: { ...this.#chaosCounts.failuresByTarget } };
  }

  /** Faults answered so far (planned and chaos). */
  get injected(): number {
    return this.#injected;
  }

  decide(target: FaultTarget, method: string, path: string): FaultDecision | undefined {
    const upper = method.toUpperCase();
    for (const entry of this.#rules) {
      const { rule } = entry;
      if (rule.method && rule.method.toUpperCase() !== upper) continue;
      if (rule.targets && !rule.targets.includes(target)) continue;
      if (!entry.re.test(path)) continue;
      entry.remaining -= 1;
      if (entry.remaining <= 0) this.#rules = this.#rules.filter((r) => r !== entry);
      const decision: FaultDecision = { delayMs: rule.delayMs ?? 0, source: "plan" };
      if (rule.status !== undefined) {
        this.#injected += 1;
        decision.failure = {
          status: rule.status,
          code: rule.code ?? defaultErrorCode(rule.status),
          message: rule.message ?? `Injected fault: ${rule.status} for ${upper} ${path}.`,
          ...(rule.retryAfterSeconds !== undefined ? { retryAfterSeconds: rule.retryAfterSeconds } : {}),
        };
      }
      return decision;
    }
    const chaos = this.#chaos;
    if (!chaos || !(chaos.options.targets ?? ["arm", "vault"]).includes(target)) return undefined;
    const draw = drawChaos(chaos.options, chaos.source);
    if (!draw) return undefined;
    const decision: FaultDecision = { delayMs: draw.delayMs, source: "chaos" };
    if (draw.status !== undefined) {
      const status = draw.status;
      this.#injected += 1;
      this.#chaosCounts.failures += 1;
      this.#chaosCounts.failuresByTarget[target] += 1;
      decision.failure = {
        status,
        code: defaultErrorCode(status),
        message: `Chaos mode: ${status} for ${upper} ${path}.`,
        ...(status === 429 || status === 503 ? { retryAfterSeconds: 1 } : {}),
      };
    }
    if (draw.delayMs > 0) {
      this.#chaosCounts.delays += 1;
      this.#chaosCounts.delayedMs += draw.delayMs;
    }
    return decision;
  }
}

/** Reads a fault rule from the JSON body of `POST /_emulator/faults`. */
export function faultRuleFromJson(body: Record<string, unknown>): FaultRule {
  const path = body.path;
  if (typeof path !== "string" || path === "") {
    throw new RangeError(
      'a fault needs "path": a regular expression source matched against the request path',
    );
  }
  const num = (key: string) => {
    const v = body[key];
    if (v === undefined) return undefined;
    if (typeof v !== "number") throw new RangeError(`fault "${key}" must be a number`);
    return v;
  };
  const str = (key: string) => {
    const v = body[key];
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw new RangeError(`fault "${key}" must be a string`);
    return v;
  };
  const rule: FaultRule = { path };
  const method = str("method");
  if (method !== undefined) rule.method = method;
  const count = num("count");
  if (count !== undefined) rule.count = count;
  const status = num("status");
  if (status !== undefined) rule.status = status;
  const code = str("code");
  if (code !== undefined) rule.code = code;
  const message = str("message");
  if (message !== undefined) rule.message = message;
  const retryAfterSeconds = num("retryAfterSeconds");
  if (retryAfterSeconds !== undefined) rule.retryAfterSeconds = retryAfterSeconds;
  const delayMs = num("delayMs");
  if (delayMs !== undefined) rule.delayMs = delayMs;
  if (body.targets !== undefined) {
    if (
      !Array.isArray(body.targets) ||
      !body.targets.every((t) => t === "arm" || t === "vault" || t === "authority")
    ) {
      throw new RangeError('fault "targets" must be a list of "arm", "vault", "authority"');
    }
    rule.targets = body.targets as FaultTarget[];
  }
  validateRule(rule);
  return rule;
}
