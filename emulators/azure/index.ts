import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EmulatorClock, scaledClock } from "../shared/clock.ts";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueServerCertificate,
  writePem,
} from "../shared/tls.ts";
import type { AzureWorldLink, ClusterInfo, ServiceAccountTokenRequest } from "../shared/world.ts";
import { aksRoutes } from "./arm-aks.ts";
import { authorizationRoutes } from "./arm-authorization.ts";
import { computeInUse, computeRoutes } from "./arm-compute.ts";
import type { ArmContext, ArmHandler, ArmRequest } from "./arm-context.ts";
import { keyVaultRoutes } from "./arm-keyvault.ts";
import { msiRoutes } from "./arm-msi.ts";
import { resourcesRoutes } from "./arm-resources.ts";
import { ARM_AUDIENCES, Authority } from "./authority.ts";
import { ComputeModel, type ComputeSettings, RAISED_QUOTAS } from "./compute.ts";
import {
  type ChaosCounts,
  type ChaosOptions,
  type FaultDecision,
  FaultPlan,
  type FaultRule,
  type FaultTarget,
  faultRuleFromJson,
  type PlannedFault,
} from "./faults.ts";
import {
  AzureHttpError,
  type EmulatorResponse,
  normalizePath,
  parseJsonBody,
  readBody,
  send,
  splitTarget,
} from "./http.ts";
import { createSigningKey, epochSeconds, signJwt } from "./jwt.ts";
import { type AzureLatencyProfile, resolveLatencyProfile, SYNCHRONOUS_LATENCIES } from "./latency.ts";
import { writeSecretWithSdk } from "./operator.ts";
import { createIdSource, newClientSecret } from "./random.ts";
import { KEY_VAULT_SECRETS_OFFICER, OWNER } from "./rbac.ts";
import { type AzureInventory, AzureState, type Principal, type RoleAssignment } from "./state.ts";
import {
  AZURE_THROTTLE_LIMITS,
  retryAfterHeaders,
  type ThrottleLimits,
  TokenBucket,
  WindowCounter,
} from "./throttle.ts";
import { VaultDataPlane } from "./vault-data.ts";
import { VaultListeners } from "./vault-listeners.ts";

export {
  type ComputeSettings,
  PAY_AS_YOU_GO_QUOTAS,
  RAISED_QUOTAS,
  USAGE_NAMES,
  VM_SKUS,
} from "./compute.ts";
export type { ChaosCounts, ChaosOptions, FaultRule, FaultTarget, PlannedFault } from "./faults.ts";
export { AZURE_LATENCY_PROFILE, type AzureLatencyProfile } from "./latency.ts";
export {
  KEY_VAULT_ADMINISTRATOR,
  KEY_VAULT_READER,
  KEY_VAULT_SECRETS_OFFICER,
  KEY_VAULT_SECRETS_USER,
  OWNER,
} from "./rbac.ts";
export type { AzureInventory, InventoryResource } from "./state.ts";
export { RESOURCE_TYPES } from "./state.ts";
export { AZURE_THROTTLE_LIMITS, type ThrottleLimits } from "./throttle.ts";

export interface StartAzureEmulatorOptions {
  /** Emulated durations are divided by this (ignored when `clock` is given). Default 1. */
  timeScale?: number;
  /** The clock to use (a manualClock in deterministic tests). */
  clock?: EmulatorClock;
  /** The world's CA, to share one with other emulators; a new one when absent. */
  ca?: CertificateAuthority;
  /** Where to write the CA's PEM; a file in a fresh temporary directory when absent. */
  caFile?: string;
  /** Seeds ids (GUIDs, secret versions) and the chaos draw, for replayable runs. */
  seed?: number;
  /** Overrides entries of the latency profile (emulated ms). */
  latency?: Partial<AzureLatencyProfile>;
  /**
   * Whether synchronous calls wait their latency before answering (default true).
   * Tests on a manual clock turn it off, or every call would wait for them to advance time.
   */
  responseDelays?: boolean;
  /** Request limits; `false` turns throttling off. Default: Azure's. */
  throttling?: false | Partial<ThrottleLimits>;
  /** Random failures from the start (see `faults.setChaos`). */
  chaos?: ChaosOptions;
  /**
   * Compute quotas (by Azure usage name, e.g. `{ cores: 10, standardBSFamily: 8 }`)
   * and VM sizes the subscription may not use. Names left out keep
   * RAISED_QUOTAS (1000 vCPUs and more each); the command lines start from
   * PAY_AS_YOU_GO_QUOTAS instead.
   */
  compute?: ComputeSettings & { defaults?: Readonly<Record<string, number>> };
  /** Port of the ARM/authority listener; ephemeral when absent. */
  port?: number;
  /** Ids of the world; random GUIDs when absent. */
  tenantId?: string;
  subscriptionId?: string;
  /** A second subscription in the same tenant (global vault names are checked across both). */
  secondarySubscriptionId?: string;
  /** One line per request (method, path, status; never bodies or secret values). */
  log?: (entry: RequestLogEntry) => void;
}

export interface RequestLogEntry {
  listener: FaultTarget | "control" | "oidc";
  method: string;
  path: string;
  status: number;
  /** Object id of the caller when the request carried a valid token. */
  caller?: string;
}

export interface PrincipalCredentials {
  clientId: string;
  clientSecret: string;
  objectId: string;
}

export interface FaultsApi {
  /** Plans a fault; returns its id. */
  add(rule: FaultRule): string;
  remove(id: string): boolean;
  clear(): void;
  list(): PlannedFault[];
  /** Turns random failures on (or off with null). */
  setChaos(options: ChaosOptions | null): void;
}

export interface ComputeApi {
  /** Sets the limit of a usage (`cores`, `standardBSFamily`, …). */
  setQuota(name: string, limit: number): void;
  /** Restricts a VM size for the subscription in every location (NotAvailableForSubscription), or lifts it. */
  restrictSize(size: string, restricted?: boolean): void;
  settings(): { quotas: Record<string, number>; restrictedSizes: string[] };
  /** What the clusters take in a location, by usage name. */
  inUse(location: string, subscriptionId?: string): Record<string, number>;
}

export interface AzureEmulatorStats {
  requests: number;
  /** 429s from the ARM token buckets and the vault windows. */
  throttled: number;
  /** Responses produced by the fault plan or chaos mode. */
  faultsInjected: number;
  /** What chaos mode drew: failures and delays (a soak test checks it really ran). */
  chaos: ChaosCounts;
}

export interface AzureEmulator {
  /** https://127.0.0.1:PORT: ARM, the authority and the cluster OIDC issuers. */
  readonly armEndpoint: string;
  /** Same origin as ARM; tokens at `${authorityHost}/${tenantId}/oauth2/v2.0/token`. */
  readonly authorityHost: string;
  readonly tenantId: string;
  readonly subscriptionId: string;
  readonly secondarySubscriptionId: string;
  /** Default location for lab resources. */
  readonly location: string;
  /** The bot's service principal: Owner on both subscriptions, no data-plane access. */
  readonly bot: PrincipalCredentials;
  /**
   * Someone outside the bot (a human operator's app registration): Key Vault
   * Secrets Officer on both subscriptions, so it can change secrets behind the
   * bot's back.
   */
  readonly operator: PrincipalCredentials;
  readonly ca: CertificateAuthority;
  readonly caPem: string;
  readonly caFile: string;
  readonly clock: EmulatorClock;
  /** The contract the Kubernetes emulator uses. */
  readonly world: AzureWorldLink;
  /** The latency profile in force (emulated ms). */
  readonly latency: Readonly<AzureLatencyProfile>;
  readonly faults: FaultsApi;
  /** Compute quotas and VM size restrictions, changeable while the emulator runs. */
  readonly compute: ComputeApi;
  inventory(): AzureInventory;
  stats(): AzureEmulatorStats;
  /** Emulated ms before a new role assignment is honoured (applies to assignments created afterwards). */
  setRoleAssignmentPropagationDelay(ms: number): void;
  /** Writes a secret version as the operator, through the real Key Vault SDK and the data plane. */
  writeSecretAsOperator(
    vaultName: string,
    secretName: string,
    value: string,
  ): Promise<{ id: string; version: string }>;
  /** KEY=value lines that point `npm start` at this emulator. */
  envLines(): string[];
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";

export async function startAzureEmulator(options: StartAzureEmulatorOptions = {}): Promise<AzureEmulator> {
  const clock = options.clock ?? scaledClock(options.timeScale ?? 1);
  const ids = createIdSource(options.seed);
  const latency = resolveLatencyProfile(options.latency);
  const responseDelays = options.responseDelays ?? true;
  const manual = "advance" in clock;
  const tenantId = options.tenantId ?? ids.guid();
  const subscriptionId = options.subscriptionId ?? ids.guid();
  const secondarySubscriptionId = options.secondarySubscriptionId ?? ids.guid();
  const limits: ThrottleLimits | undefined =
    options.throttling === false ? undefined : { ...AZURE_THROTTLE_LIMITS, ...options.throttling };

  const ca = options.ca ?? (await createCertificateAuthority("labops Azure emulator CA"));
  let tempDir: string | undefined;
  let caFile = options.caFile;
  if (!caFile) {
    tempDir = await mkdtemp(join(tmpdir(), "labops-azure-"));
    caFile = join(tempDir, "ca.pem");
  }
  await writePem(caFile, ca.cert);

  const state = new AzureState({
    clock,
    ids,
    latency,
    tenantId,
    subscriptionIds: [subscriptionId, secondarySubscriptionId],
  });
  const compute = new ComputeModel(options.compute?.defaults ?? RAISED_QUOTAS, options.compute);
  const counters = { requests: 0, throttled: 0, faultsInjected: 0 };
  const faults = new FaultPlan(ids, (seed) => createIdSource(seed ?? options.seed));
  if (options.chaos) faults.setChaos(options.chaos);
  const stats = (): AzureEmulatorStats => ({ ...counters, chaos: faults.chaosCounts });

  let origin = "";
  const signingKey = await createSigningKey(ids.hex(16));
  const issuerKeys = (iss: string) => {
    for (const c of state.clusters.values()) {
      if (c.oidcEnabled && state.issuerUrl(c, origin) === iss) return [c.issuerKey.jwk];
    }
    return undefined;
  };
  const authority = new Authority({ state, signingKey, origin: () => origin, issuerKeys });

  const delay = async (entry: keyof AzureLatencyProfile) => {
    const ms = latency[entry];
    if (!responseDelays || ms <= 0 || !SYNCHRONOUS_LATENCIES.has(entry)) return;
    await clock.sleep(ms);
  };

  // --- principals and their standing access --------------------------------------------
  const seedPrincipal = (displayName: string, kind: Principal["kind"]): PrincipalCredentials => {
    const creds = { clientId: ids.guid(), clientSecret: newClientSecret(), objectId: ids.guid() };
    state.addPrincipal({
      objectId: creds.objectId,
      appId: creds.clientId,
      displayName,
      kind,
      secret: creds.clientSecret,
    });
    return creds;
  };
  const seedAssignment = (principalId: string, roleGuid: string, sub: string) => {
    const name = ids.guid();
    const scope = `/subscriptions/${sub}`;
    const ra: RoleAssignment = {
      id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`,
      name,
      scope,
      roleDefinitionId: `${scope}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`,
      roleGuid,
      principalId,
      principalType: "ServicePrincipal",
      createdOn: clock.now(),
      createdBy: principalId,
      effectiveAt: clock.now(),
      seeded: true,
    };
    state.roleAssignments.set(ra.id.toLowerCase(), ra);
  };
  const bot = seedPrincipal("labops-bot", "ServicePrincipal");
  const operator = seedPrincipal("labops-operator", "ServicePrincipal");
  for (const sub of [subscriptionId, secondarySubscriptionId]) {
    seedAssignment(bot.objectId, OWNER, sub);
    seedAssignment(operator.objectId, KEY_VAULT_SECRETS_OFFICER, sub);
  }

  // --- throttling -------------------------------------------------------------------------
  const armBuckets = new Map<string, TokenBucket>();
  const armTake = (sub: string, kind: "reads" | "writes") => {
    if (!limits) return { ok: true as const, remaining: Number.POSITIVE_INFINITY };
    const key = `${sub.toLowerCase()}/${kind}`;
    let bucket = armBuckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(clock, kind === "reads" ? limits.armReads : limits.armWrites);
      armBuckets.set(key, bucket);
    }
    return bucket.take();
  };
  const vaultWindows = new Map<string, WindowCounter>();
  const vaultThrottle = (
    vaultName: string,
    kind: "create" | "other",
    limit: "vaultCreates" | "vaultOther",
  ) => {
    if (!limits) return { ok: true as const, remaining: Number.POSITIVE_INFINITY };
    const key = vaultName.toLowerCase();
    let counter = vaultWindows.get(key);
    if (!counter) {
      counter = new WindowCounter(clock, limits.vaultWindowMs);
      vaultWindows.set(key, counter);
    }
    const result = counter.take(kind, limits[limit]);
    if (!result.ok) counters.throttled += 1;
    return result;
  };

  // --- vault data plane ------------------------------------------------------------------------
  const dataPlane = new VaultDataPlane({
    state,
    authority,
    authorityHost: () => origin,
    delay,
    throttle: vaultThrottle,
  });
  const vaultListeners = new VaultListeners(ca, HOST, (vaultName) => (req, res) => {
    void serve(req, res, "vault", async (method, path, query, body) => {
      const decision = faults.decide("vault", method, path);
      const injected = await applyFault(decision, "vault");
      if (injected) return injected;
      return dataPlane.handle(vaultName, {
        method,
        path,
        query,
        authorization: req.headers.authorization,
        readBody: body,
      });
    });
  });
  state.onVaultReachability = (name, reachable) => vaultListeners.setReachable(name, reachable);

  // --- ARM ----------------------------------------------------------------------------------------
  const armContext: ArmContext = {
    state,
    armEndpoint: () => origin,
    caPem: ca.cert,
    delay,
    vaultEndpoint: (name) => vaultListeners.ensure(name),
    newIssuerKey: () => createSigningKey(ids.hex(16)),
    manualClock: manual,
    compute,
  };
  const handlers: ArmHandler[] = [
    resourcesRoutes,
    aksRoutes,
    keyVaultRoutes,
    msiRoutes,
    authorizationRoutes,
    computeRoutes(compute),
  ];

  async function applyFault(
    decision: FaultDecision | undefined,
    target: FaultTarget,
  ): Promise<EmulatorResponse | undefined> {
    if (!decision) return undefined;
    if (decision.delayMs > 0) await clock.sleep(decision.delayMs);
    const failure = decision.failure;
    if (!failure) return undefined;
    counters.faultsInjected += 1;
    const headers: Record<string, string> =
      failure.retryAfterSeconds !== undefined ? { "retry-after": String(failure.retryAfterSeconds) } : {};
    if (target === "authority") {
      return {
        status: failure.status,
        headers,
        body: { error: failure.code, error_description: failure.message },
      };
    }
    return new AzureHttpError(failure.status, failure.code, failure.message, { headers }).toResponse();
  }

  async function handleArm(
    req: IncomingMessage,
    method: string,
    path: string,
    query: URLSearchParams,
    body: () => Promise<string>,
  ): Promise<EmulatorResponse> {
    const apiVersion = query.get("api-version");
    if (!apiVersion) {
      throw new AzureHttpError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
      );
    }
    const token = authority.checkBearer(req.headers.authorization, [...ARM_AUDIENCES, origin]);
    if (!token.ok) {
      const failures: Record<typeof token.reason, [string, string]> = {
        missing: ["AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."],
        malformed: ["InvalidAuthenticationToken", "The access token is invalid."],
        signature: [
          "InvalidAuthenticationToken",
          "The access token is invalid: its signature or issuer is not trusted.",
        ],
        tenant: [
          "InvalidAuthenticationTokenTenant",
          `The access token is from the wrong issuer. It must match the tenant '${tenantId}'.`,
        ],
        expired: [
          "ExpiredAuthenticationToken",
          "The access token expiry UTC time is earlier than current UTC time.",
        ],
        audience: [
          "InvalidAuthenticationTokenAudience",
          `The access token has been obtained for wrong audience or resource '${token.ok ? "" : (token.audience ?? "")}'. It should exactly match with one of the allowed audiences '${[...ARM_AUDIENCES, origin].join("','")}'.`,
        ],
      };
      const [code, message] = failures[token.reason];
      throw new AzureHttpError(401, code, message, {
        headers: {
          "www-authenticate": `Bearer authorization_uri="${origin}/${tenantId}", error="invalid_token", error_description="${message.replace(/"/g, "'")}"`,
        },
      });
    }
    currentCaller.set(req, token.oid);
    const segments = path.split("/").filter(Boolean);
    const headers: Record<string, string> = {};
    if (segments[0]?.toLowerCase() === "subscriptions" && segments[1]) {
      const kind = method === "GET" || method === "HEAD" ? "reads" : "writes";
      const taken = armTake(segments[1], kind);
      if (!taken.ok) {
        counters.throttled += 1;
        throw new AzureHttpError(
          429,
          "SubscriptionRequestsThrottled",
          `Number of '${kind === "reads" ? "read" : "write"}' requests for subscription '${segments[1]}' actor '${token.oid}' exceeded. Please try again after '${Math.max(1, Math.ceil(taken.retryAfterEmulatedMs / 1000))}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.`,
          { headers: retryAfterHeaders(clock, taken.retryAfterEmulatedMs) },
        );
      }
      if (Number.isFinite(taken.remaining)) {
        headers[`x-ms-ratelimit-remaining-subscription-${kind}`] = String(taken.remaining);
      }
    }
    let parsed: Record<string, unknown> | undefined;
    const armReq: ArmRequest = {
      method,
      path,
      segments,
      query,
      apiVersion,
      caller: { oid: token.oid, appId: token.appId },
      body: async () => {
        parsed ??= parseJsonBody(await body());
        return parsed;
      },
    };
    for (const handler of handlers) {
      const response = await handler(armContext, armReq);
      if (response) return { ...response, headers: { ...headers, ...response.headers } };
    }
    throw new AzureHttpError(404, "NotFound", `The emulator does not serve ${method} ${path}.`);
  }

  function handleOidc(method: string, path: string): EmulatorResponse | undefined {
    const m = /^\/oidc\/([^/]+)\/([^/]+)\/(\.well-known\/openid-configuration|openid\/v1\/jwks)$/.exec(path);
    if (!m) return undefined;
    const cluster = state.clusterByGuid(m[2] ?? "");
    if (!cluster?.oidcEnabled || (m[1] ?? "").toLowerCase() !== tenantId.toLowerCase() || method !== "GET") {
      return { status: 404, body: { error: "not found" } };
    }
    const issuer = state.issuerUrl(cluster, origin);
    if (m[3] === "openid/v1/jwks") return { status: 200, body: { keys: [cluster.issuerKey.jwk] } };
    return {
      status: 200,
      body: {
        issuer,
        jwks_uri: `${issuer}openid/v1/jwks`,
        response_types_supported: ["id_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
      },
    };
  }

  async function handleControl(
    method: string,
    path: string,
    body: () => Promise<string>,
  ): Promise<EmulatorResponse> {
    const json = async () => parseJsonBody(await body());
    const bad = (e: unknown) =>
      new AzureHttpError(
        400,
        "BadRequest",
        e instanceof Error ? e.message : "The request could not be read.",
      );
    if (path === "/_emulator/inventory" && method === "GET") return { status: 200, body: state.inventory() };
    if (path === "/_emulator/stats" && method === "GET") return { status: 200, body: stats() };
    if (path === "/_emulator/latency" && method === "GET") return { status: 200, body: { ...latency } };
    if (path === "/_emulator/faults") {
      if (method === "GET") return { status: 200, body: { value: faults.list() } };
      if (method === "DELETE") {
        faults.clear();
        return { status: 204 };
      }
      if (method === "POST") {
        try {
          return { status: 201, body: { id: faults.add(faultRuleFromJson(await json())) } };
        } catch (e) {
          throw e instanceof AzureHttpError ? e : bad(e);
        }
      }
    }
    const one = /^\/_emulator\/faults\/([^/]+)$/.exec(path);
    if (one && method === "DELETE") return { status: faults.remove(one[1] ?? "") ? 204 : 404 };
    if (path === "/_emulator/chaos") {
      if (method === "DELETE") {
        faults.setChaos(null);
        return { status: 204 };
      }
      if (method === "POST") {
        const b = await json();
        try {
          const chaos: ChaosOptions = { rate: Number(b.rate) };
          if (typeof b.seed === "number") chaos.seed = b.seed;
          if (Array.isArray(b.statuses)) chaos.statuses = b.statuses.map(Number);
          if (Array.isArray(b.targets)) chaos.targets = b.targets as FaultTarget[];
          if (Array.isArray(b.latencyMs) && b.latencyMs.length === 2) {
            chaos.latencyMs = [Number(b.latencyMs[0]), Number(b.latencyMs[1])];
          }
          if (typeof b.latencyRate === "number") chaos.latencyRate = b.latencyRate;
          faults.setChaos(chaos);
        } catch (e) {
          throw bad(e);
        }
        return { status: 204 };
      }
    }
    if (path === "/_emulator/compute") {
      if (method === "GET") return { status: 200, body: compute.settings() };
      if (method === "POST") {
        // {"quotas": {"cores": 10}, "restrict": ["Standard_B2s"], "unrestrict": [...]}
        const b = await json();
        try {
          const quotas = b.quotas === undefined ? {} : b.quotas;
          if (typeof quotas !== "object" || quotas === null || Array.isArray(quotas)) {
            throw new Error("quotas must be an object of usage names to limits");
          }
          for (const [name, limit] of Object.entries(quotas)) compute.setQuota(name, Number(limit));
          for (const [key, restricted] of [
            ["restrict", true],
            ["unrestrict", false],
          ] as const) {
            const sizes = b[key] === undefined ? [] : b[key];
            if (!Array.isArray(sizes)) throw new Error(`${key} must be an array of VM sizes`);
            for (const size of sizes) compute.restrictSize(String(size), restricted);
          }
        } catch (e) {
          throw bad(e);
        }
        return { status: 200, body: compute.settings() };
      }
    }
    if (path === "/_emulator/role-assignment-propagation" && method === "POST") {
      const b = await json();
      try {
        setPropagation(Number(b.delayMs));
      } catch (e) {
        throw bad(e);
      }
      return { status: 204 };
    }
    throw new AzureHttpError(404, "NotFound", `No emulator control endpoint ${method} ${path}.`);
  }

  const currentCaller = new WeakMap<IncomingMessage, string>();

  async function serve(
    req: IncomingMessage,
    res: ServerResponse,
    listener: RequestLogEntry["listener"],
    handle: (
      method: string,
      path: string,
      query: URLSearchParams,
      body: () => Promise<string>,
    ) => Promise<EmulatorResponse>,
  ): Promise<void> {
    counters.requests += 1;
    const method = (req.method ?? "GET").toUpperCase();
    const target = splitTarget(req.url);
    const path = normalizePath(target.pathname);
    let response: EmulatorResponse;
    try {
      response = await handle(method, path, target.query, () => readBody(req));
    } catch (error) {
      if (error instanceof AzureHttpError) {
        response = error.toResponse();
      } else {
        // No request content in the message: it could be a secret value.
        response = new AzureHttpError(
          500,
          "InternalServerError",
          `The emulator failed while handling ${method} ${path}: ${error instanceof Error ? error.name : "error"}.`,
        ).toResponse();
        options.log?.({ listener, method, path, status: 500 });
      }
    }
    const requestId = ids.guid();
    const clientRequestId = req.headers["x-ms-client-request-id"];
    try {
      send(res, response, {
        "x-ms-request-id": requestId,
        "x-ms-correlation-request-id": requestId,
        ...(typeof clientRequestId === "string" ? { "x-ms-client-request-id": clientRequestId } : {}),
      });
    } catch {
      // The client went away (or the emulator is stopping); there is no one left to answer.
      res.destroy();
    }
    const caller = currentCaller.get(req);
    options.log?.({ listener, method, path, status: response.status, ...(caller ? { caller } : {}) });
  }

  const armCert = await issueServerCertificate(ca, "azure-emulator.labops");
  const armServer: Server = createServer({ cert: armCert.cert, key: armCert.key }, (req, res) => {
    const path = normalizePath(splitTarget(req.url).pathname);
    const listener: RequestLogEntry["listener"] = path.startsWith("/_emulator/")
      ? "control"
      : path.startsWith("/oidc/")
        ? "oidc"
        : /^\/[^/]+\/(v2\.0\/\.well-known|discovery\/v2\.0|oauth2\/v2\.0)\//.test(path)
          ? "authority"
          : "arm";
    void serve(req, res, listener, async (method, p, query, body) => {
      if (listener === "control") return handleControl(method, p, body);
      const target: FaultTarget = listener === "arm" ? "arm" : "authority";
      const injected = await applyFault(faults.decide(target, method, p), target);
      if (injected) return injected;
      if (listener === "oidc") return handleOidc(method, p) ?? { status: 404, body: { error: "not found" } };
      if (listener === "authority") {
        const answered = await authority.handle(method, p, async () => new URLSearchParams(await body()));
        if (answered) {
          if (answered.status === 200 && p.endsWith("/token")) await delay("tokenIssue");
          return answered;
        }
      }
      return handleArm(req, method, p, query, body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    armServer.once("error", reject);
    armServer.listen(options.port ?? 0, HOST, () => {
      armServer.off("error", reject);
      resolve();
    });
  });
  const address = armServer.address();
  if (address === null || typeof address === "string") throw new Error("ARM listener has no TCP address");
  origin = `https://${HOST}:${address.port}`;

  function setPropagation(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) {
      throw new RangeError(
        `role assignment propagation delay must be a non-negative number of ms, got ${ms}`,
      );
    }
    latency.roleAssignmentPropagation = ms;
  }

  // --- the contract with the Kubernetes emulator ---------------------------------------------------
  const saUids = new Map<string, string>();
  const world: AzureWorldLink = {
    tenantId,
    get authorityHost() {
      return origin;
    },
    caPem: ca.cert,
    clock,
    clusters: (): ClusterInfo[] =>
      [...state.clusters.values()].filter((c) => c.ready).map((c) => state.clusterInfo(c, origin)),
    onClusterEvent: (listener) => state.onClusterEvent(listener),
    async signServiceAccountToken(clusterId: string, request: ServiceAccountTokenRequest): Promise<string> {
      const cluster = state.clusterById(clusterId);
      if (!cluster) throw new Error(`no managed cluster with id ${clusterId}`);
      const key = `${cluster.id}|${request.namespace}|${request.serviceAccount}`.toLowerCase();
      let uid = saUids.get(key);
      if (!uid) {
        uid = ids.guid();
        saUids.set(key, uid);
      }
      const now = epochSeconds(clock.now());
      return signJwt(cluster.issuerKey, {
        aud: [request.audience],
        exp: now + (request.expiresInSeconds ?? 3600),
        iat: now,
        nbf: now,
        // Without the OIDC issuer, tokens carry the in-cluster issuer nobody outside can verify, as in AKS.
        iss: cluster.oidcEnabled
          ? state.issuerUrl(cluster, origin)
          : "https://kubernetes.default.svc.cluster.local",
        sub: `system:serviceaccount:${request.namespace}:${request.serviceAccount}`,
        "kubernetes.io": {
          namespace: request.namespace,
          serviceaccount: { name: request.serviceAccount, uid },
        },
      });
    },
    vaultUri(vaultName: string): string | undefined {
      const vault = state.liveVaultByName(vaultName);
      return vault ? vault.vaultUri : undefined;
    },
    setKubernetesEndpointProvider(provider) {
      state.kubernetesEndpointProvider = provider;
    },
  };

  let stopped = false;
  return {
    armEndpoint: origin,
    authorityHost: origin,
    tenantId,
    subscriptionId,
    secondarySubscriptionId,
    location: "centralus",
    bot,
    operator,
    ca,
    caPem: ca.cert,
    caFile,
    clock,
    world,
    latency,
    faults: {
      add: (rule) => faults.add(rule),
      remove: (id) => faults.remove(id),
      clear: () => faults.clear(),
      list: () => faults.list(),
      setChaos: (chaos) => faults.setChaos(chaos),
    },
    compute: {
      setQuota: (name, limit) => compute.setQuota(name, limit),
      restrictSize: (size, restricted = true) => compute.restrictSize(size, restricted),
      settings: () => compute.settings(),
      inUse: (location, sub = subscriptionId) => Object.fromEntries(computeInUse(state, sub, location)),
    },
    inventory: () => state.inventory(),
    stats,
    setRoleAssignmentPropagationDelay: setPropagation,
    writeSecretAsOperator: (vaultName, secretName, value) => {
      const uri = world.vaultUri(vaultName);
      if (!uri) return Promise.reject(new Error(`no live vault named ${vaultName}`));
      return writeSecretWithSdk({
        vaultUri: uri,
        authorityHost: origin,
        tenantId,
        credentials: operator,
        caPem: ca.cert,
        secretName,
        value,
      });
    },
    envLines: () => [
      `ARM_ENDPOINT=${origin}`,
      `LABOPS_CA_FILE=${caFile}`,
      `NODE_EXTRA_CA_CERTS=${caFile}`,
      `AZURE_SUBSCRIPTION_ID=${subscriptionId}`,
      `AZURE_TENANT_ID=${tenantId}`,
      `AZURE_AUTHORITY_HOST=${origin}`,
      `AZURE_CLIENT_ID=${bot.clientId}`,
      `AZURE_CLIENT_SECRET=${bot.clientSecret}`,
    ],
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const op of state.operations.values()) op.cancel();
      await Promise.all([
        new Promise<void>((resolve) => {
          armServer.close(() => resolve());
          armServer.closeAllConnections();
        }),
        vaultListeners.closeAll(),
      ]);
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    },
  };
}
