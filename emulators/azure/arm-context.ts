import type { ComputeModel } from "./compute.ts";
import { AzureHttpError, type EmulatorResponse } from "./http.ts";
import type { SigningKey } from "./jwt.ts";
import type { AzureLatencyProfile } from "./latency.ts";
import { type AzureState, resourceGroupId } from "./state.ts";

/** One authenticated ARM request, as the resource-provider handlers see it. */
export interface ArmRequest {
  method: string;
  /** Normalized path (single leading slash, no trailing slash). */
  path: string;
  /** Path segments in their original case. */
  segments: string[];
  query: URLSearchParams;
  apiVersion: string;
  /** The caller, from its access token. */
  caller: { oid: string; appId: string };
  body(): Promise<Record<string, unknown>>;
}

/** What handlers need from the emulator around them. */
export interface ArmContext {
  state: AzureState;
  /** https://127.0.0.1:PORT (no trailing slash). */
  armEndpoint(): string;
  /** PEM of the world's CA, for kubeconfigs that point at nothing the Kubernetes emulator serves. */
  caPem: string;
  /** Waits the synchronous latency of `entry` (no-op when response delays are off). */
  delay(entry: keyof AzureLatencyProfile): Promise<void>;
  /** Starts (or reuses) the data-plane listener of a vault name and returns its URI with a trailing slash. */
  vaultEndpoint(vaultName: string): Promise<string>;
  /** A fresh RSA key for a cluster's OIDC issuer. */
  newIssuerKey(): Promise<SigningKey>;
  /** Whether `Retry-After` on operation polls should be 1 s regardless of the remaining time (manual clocks). */
  manualClock: boolean;
  /** Compute quotas and VM size restrictions (what a cluster's node pools may take). */
  compute: ComputeModel;
}

export type ArmHandler = (ctx: ArmContext, req: ArmRequest) => Promise<EmulatorResponse | undefined>;

/**
 * Matches `segments` against a pattern such as
 * `subscriptions/{sub}/resourceGroups/{rg}`: literals compare
 * case-insensitively, `{name}` captures one segment.
 */
export function matchPath(segments: readonly string[], pattern: string): Record<string, string> | undefined {
  const parts = pattern.split("/");
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? "";
    const seg = segments[i] ?? "";
    if (part.startsWith("{") && part.endsWith("}")) {
      if (seg === "") return undefined;
      params[part.slice(1, -1)] = decodeURIComponent(seg);
    } else if (part.toLowerCase() !== seg.toLowerCase()) {
      return undefined;
    }
  }
  return params;
}

export function methodNotAllowed(method: string): never {
  throw new AzureHttpError(
    405,
    "MethodNotAllowed",
    `The requested resource does not support http method '${method}'.`,
  );
}

export function notFound(type: string, name: string, resourceGroup: string): AzureHttpError {
  return new AzureHttpError(
    404,
    "ResourceNotFound",
    `The Resource '${type}/${name}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

export function requireSubscription(ctx: ArmContext, subscriptionId: string): void {
  if (!ctx.state.hasSubscription(subscriptionId)) {
    throw new AzureHttpError(
      404,
      "SubscriptionNotFound",
      `The subscription '${subscriptionId}' could not be found.`,
    );
  }
}

/** 403 AuthorizationFailed unless the caller holds a role allowing `action` at `scope`. */
export function authorize(ctx: ArmContext, req: ArmRequest, action: string, scope: string): void {
  if (ctx.state.isAllowed(req.caller.oid, scope, action, false)) return;
  throw new AzureHttpError(
    403,
    "AuthorizationFailed",
    `The client '${req.caller.oid}' with object id '${req.caller.oid}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
  );
}

/** ARM normalizes display names ("Central US") to location names ("centralus"). */
export function normalizeLocation(location: string): string {
  return location.replace(/\s+/g, "").toLowerCase();
}

export function requireLocation(body: Record<string, unknown>): string {
  const location = body.location;
  if (typeof location !== "string" || location.trim() === "") {
    throw new AzureHttpError(
      400,
      "LocationRequired",
      "The location property is required for this definition.",
    );
  }
  return normalizeLocation(location);
}

export function tagsOf(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new AzureHttpError(
      400,
      "InvalidRequestContent",
      "The 'tags' property must be an object of strings.",
    );
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== "string") {
      throw new AzureHttpError(400, "InvalidTag", `The value of tag '${k}' must be a string.`);
    }
    out[k] = v;
  }
  return out;
}

/** `{"value":[...]}`, the list envelope every ARM list answers with. */
export function list(items: unknown[]): EmulatorResponse {
  return { status: 200, body: { value: items } };
}

/**
 * GET on a subscription-wide collection (`.../providers/{type}` under a
 * subscription): the items of that subscription, once the caller may read it.
 */
export async function listInSubscription<T>(
  ctx: ArmContext,
  req: ArmRequest,
  subscriptionId: string,
  readAction: string,
  items: Iterable<T>,
  subscriptionOf: (item: T) => string,
  toJson: (item: T) => unknown,
): Promise<EmulatorResponse> {
  requireSubscription(ctx, subscriptionId);
  if (req.method !== "GET") methodNotAllowed(req.method);
  authorize(ctx, req, readAction, `/subscriptions/${subscriptionId}`);
  await ctx.delay("armRead");
  const sub = subscriptionId.toLowerCase();
  return list([...items].filter((item) => subscriptionOf(item).toLowerCase() === sub).map(toJson));
}

/** GET on a resource group's collection of one type: 404 when the group is missing, 403 without read there. */
export async function listInResourceGroup<T extends { subscriptionId: string; resourceGroup: string }>(
  ctx: ArmContext,
  req: ArmRequest,
  subscriptionId: string,
  resourceGroup: string,
  readAction: string,
  items: Iterable<T>,
  toJson: (item: T) => unknown,
): Promise<EmulatorResponse> {
  const { state } = ctx;
  requireSubscription(ctx, subscriptionId);
  if (req.method !== "GET") methodNotAllowed(req.method);
  state.requireResourceGroup(subscriptionId, resourceGroup, false);
  authorize(ctx, req, readAction, resourceGroupId(subscriptionId, resourceGroup));
  await ctx.delay("armRead");
  const key = state.rgKey(subscriptionId, resourceGroup);
  return list(
    [...items].filter((item) => state.rgKey(item.subscriptionId, item.resourceGroup) === key).map(toJson),
  );
}

/** Seconds a client should wait before polling an operation due at `dueAt` again. */
export function pollRetryAfter(ctx: ArmContext, dueAt: number): string {
  if (ctx.manualClock) return "1";
  const remainingMs = dueAt - ctx.state.clock.now();
  return String(Math.min(10, Math.max(1, Math.ceil(remainingMs / 1000))));
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
