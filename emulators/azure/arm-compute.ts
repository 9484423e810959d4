import {
  type ArmContext,
  type ArmRequest,
  authorize,
  list,
  matchPath,
  methodNotAllowed,
  normalizeLocation,
  requireSubscription,
} from "./arm-context.ts";
import { COMPUTE_LOCATIONS, ComputeModel, offersLocation, type PoolDemand } from "./compute.ts";
import { AzureHttpError, asRecord, type EmulatorResponse } from "./http.ts";
import type { AzureState, ManagedCluster } from "./state.ts";

const USAGES_READ = "Microsoft.Compute/locations/usages/read";
const SKUS_READ = "Microsoft.Compute/skus/read";

/** The node pools of a cluster as last requested (AKS's default size when a pool names none). */
export function clusterPools(c: Pick<ManagedCluster, "requested">): PoolDemand[] {
  const pools = Array.isArray(c.requested.agentPoolProfiles) ? c.requested.agentPoolProfiles : [];
  return pools.map((raw) => {
    const pool = asRecord(raw) ?? {};
    return {
      name: typeof pool.name === "string" ? pool.name : "",
      vmSize: typeof pool.vmSize === "string" ? pool.vmSize : "Standard_DS2_v2",
      count: typeof pool.count === "number" ? pool.count : 1,
    };
  });
}

/**
 * What the clusters of a subscription take in a location: every cluster that
 * exists counts its node pools (a cluster being created or deleted still holds
 * its VMs), except `except` (the cluster a PUT is about to replace).
 */
export function computeInUse(
  state: AzureState,
  subscriptionId: string,
  location: string,
  except?: ManagedCluster,
): Map<string, number> {
  const pools: PoolDemand[] = [];
  for (const c of state.clusters.values()) {
    if (c === except) continue;
    if (c.subscriptionId.toLowerCase() !== subscriptionId.toLowerCase()) continue;
    if (normalizeLocation(c.location) !== normalizeLocation(location)) continue;
    pools.push(...clusterPools(c));
  }
  return ComputeModel.demand(pools);
}

/**
 * The location in a path: ARM answers 400 for a region the resource type is
 * not offered in, naming the regions it is.
 */
function requireComputeLocation(location: string, type: string): string {
  const normalized = normalizeLocation(location);
  if (!offersLocation(normalized)) {
    throw new AzureHttpError(
      400,
      "LocationNotAvailableForResourceType",
      `The provided location '${location}' is not available for resource type '${type}'. List of available regions for the resource type is '${COMPUTE_LOCATIONS.join(",")}'.`,
    );
  }
  return normalized;
}

/** `location eq 'westus'`, the only `$filter` the SKU list takes. */
function skuFilterLocation(filter: string | null): string | undefined {
  if (!filter) return undefined;
  const m = /^\s*location\s+eq\s+'([^']+)'\s*$/i.exec(filter);
  if (!m) {
    throw new AzureHttpError(
      400,
      "InvalidFilter",
      `The $filter '${filter}' is not supported; only "location eq '<location>'" is.`,
    );
  }
  return normalizeLocation(m[1] ?? "");
}

export function computeRoutes(model: ComputeModel) {
  return async (ctx: ArmContext, req: ArmRequest): Promise<EmulatorResponse | undefined> => {
    const s = req.segments;
    let p = matchPath(s, "subscriptions/{sub}/providers/Microsoft.Compute/locations/{loc}/usages");
    if (p) {
      const sub = p.sub ?? "";
      requireSubscription(ctx, sub);
      if (req.method !== "GET") methodNotAllowed(req.method);
      authorize(ctx, req, USAGES_READ, `/subscriptions/${sub}`);
      const location = requireComputeLocation(p.loc ?? "", "Microsoft.Compute/locations/usages");
      await ctx.delay("armRead");
      return list(model.usages(computeInUse(ctx.state, sub, location)));
    }
    p = matchPath(s, "subscriptions/{sub}/providers/Microsoft.Compute/skus");
    if (p) {
      const sub = p.sub ?? "";
      requireSubscription(ctx, sub);
      if (req.method !== "GET") methodNotAllowed(req.method);
      authorize(ctx, req, SKUS_READ, `/subscriptions/${sub}`);
      const location = skuFilterLocation(req.query.get("$filter"));
      await ctx.delay("armRead");
      return list(model.skus(location));
    }
    return undefined;
  };
}
