import {
  type ArmContext,
  type ArmRequest,
  authorize,
  list,
  listInSubscription,
  matchPath,
  methodNotAllowed,
  normalizeLocation,
  pollRetryAfter,
  requireLocation,
  requireSubscription,
  tagsOf,
} from "./arm-context.ts";
import { AzureHttpError, type EmulatorResponse } from "./http.ts";
import { RESOURCE_TYPES, type ResourceGroup, resourceGroupId } from "./state.ts";

const RG_READ = "Microsoft.Resources/subscriptions/resourceGroups/read";
const RG_WRITE = "Microsoft.Resources/subscriptions/resourceGroups/write";
const RG_DELETE = "Microsoft.Resources/subscriptions/resourceGroups/delete";

export function resourceGroupJson(rg: ResourceGroup): Record<string, unknown> {
  return {
    id: rg.id,
    name: rg.name,
    type: RESOURCE_TYPES.resourceGroup,
    location: rg.location,
    ...(Object.keys(rg.tags).length > 0 ? { tags: rg.tags } : {}),
    ...(rg.managedBy ? { managedBy: rg.managedBy } : {}),
    properties: { provisioningState: rg.state },
  };
}

/** Resource group names: 1-90 letters, digits, '-', '_', '.', '(' and ')', not ending with '.'. */
export function validateResourceGroupName(name: string): void {
  const bad = [...new Set(name.replace(/[\p{L}\p{N}\-_.()]/gu, ""))].join("");
  if (name.length === 0 || name.length > 90 || bad !== "" || name.endsWith(".")) {
    throw new AzureHttpError(
      400,
      "InvalidResourceGroup",
      bad !== ""
        ? `The provided resource group name '${name}' has these invalid characters: '${bad}'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'.`
        : `The provided resource group name '${name}' is not valid: it must be 1 to 90 characters long and cannot end with a period.`,
    );
  }
}

export async function resourcesRoutes(
  ctx: ArmContext,
  req: ArmRequest,
): Promise<EmulatorResponse | undefined> {
  const { state } = ctx;
  const s = req.segments;

  let p = matchPath(s, "subscriptions/{sub}/resourcegroups");
  if (p) {
    return listInSubscription(
      ctx,
      req,
      p.sub ?? "",
      RG_READ,
      state.resourceGroups.values(),
      (g) => g.subscriptionId,
      resourceGroupJson,
    );
  }

  p = matchPath(s, "subscriptions/{sub}/resourcegroups/{rg}");
  if (p) {
    const sub = p.sub ?? "";
    const name = p.rg ?? "";
    requireSubscription(ctx, sub);
    const scope = resourceGroupId(sub, name);
    switch (req.method) {
      case "GET":
      case "HEAD": {
        authorize(ctx, req, RG_READ, scope);
        await ctx.delay("armRead");
        const rg = state.resourceGroup(sub, name);
        if (req.method === "HEAD") return { status: rg ? 204 : 404 };
        if (!rg)
          throw new AzureHttpError(
            404,
            "ResourceGroupNotFound",
            `Resource group '${name}' could not be found.`,
          );
        return { status: 200, body: resourceGroupJson(rg) };
      }
      case "PUT":
        return putResourceGroup(ctx, req, sub, name);
      case "PATCH": {
        authorize(ctx, req, RG_WRITE, scope);
        const rg = state.requireResourceGroup(sub, name, true);
        const body = await req.body();
        await ctx.delay("armWrite");
        if (body.tags !== undefined) rg.tags = tagsOf(body.tags);
        return { status: 200, body: resourceGroupJson(rg) };
      }
      case "DELETE":
        return deleteResourceGroup(ctx, req, sub, name);
      default:
        methodNotAllowed(req.method);
    }
  }

  p = matchPath(s, "subscriptions/{sub}/operationresults/{id}");
  if (p) {
    requireSubscription(ctx, p.sub ?? "");
    if (req.method !== "GET") methodNotAllowed(req.method);
    return operationResult(ctx, req, p.id ?? "");
  }

  p =
    matchPath(s, "subscriptions/{sub}/resources") ??
    matchPath(s, "subscriptions/{sub}/resourcegroups/{rg}/resources");
  if (p) {
    const sub = p.sub ?? "";
    requireSubscription(ctx, sub);
    if (req.method !== "GET") methodNotAllowed(req.method);
    if (p.rg) state.requireResourceGroup(sub, p.rg, false);
    const scope = p.rg ? resourceGroupId(sub, p.rg) : `/subscriptions/${sub}`;
    authorize(ctx, req, "Microsoft.Resources/subscriptions/resources/read", scope);
    await ctx.delay("armRead");
    return list(genericResources(ctx, sub, p.rg, req.query.get("$filter")));
  }
  return undefined;
}

async function putResourceGroup(
  ctx: ArmContext,
  req: ArmRequest,
  sub: string,
  name: string,
): Promise<EmulatorResponse> {
  const { state } = ctx;
  authorize(ctx, req, RG_WRITE, resourceGroupId(sub, name));
  validateResourceGroupName(name);
  const body = await req.body();
  const location = requireLocation(body);
  const tags = tagsOf(body.tags);
  const existing = state.resourceGroup(sub, name);
  if (existing) {
    if (existing.state === "Deleting") state.requireResourceGroup(sub, name, true);
    if (existing.location !== location) {
      throw new AzureHttpError(
        409,
        "InvalidResourceGroupLocation",
        `Invalid resource group location '${location}'. The Resource group already exists in location '${existing.location}'.`,
      );
    }
    await ctx.delay("armWrite");
    existing.tags = tags;
    return { status: 200, body: resourceGroupJson(existing) };
  }
  await ctx.delay("resourceGroupCreate");
  // Two concurrent creates of one name: the second sees the first's group, as ARM's PUT is idempotent.
  const raced = state.resourceGroup(sub, name);
  if (raced) return { status: 200, body: resourceGroupJson(raced) };
  const rg: ResourceGroup = {
    id: resourceGroupId(sub, name),
    subscriptionId: sub,
    name,
    location,
    tags,
    state: "Succeeded",
  };
  state.resourceGroups.set(state.rgKey(sub, name), rg);
  state.count(RESOURCE_TYPES.resourceGroup, "created");
  return { status: 201, body: resourceGroupJson(rg) };
}

const rgDeleteOps = new WeakMap<ResourceGroup, string>();

function deleteResourceGroup(ctx: ArmContext, req: ArmRequest, sub: string, name: string): EmulatorResponse {
  const { state } = ctx;
  authorize(ctx, req, RG_DELETE, resourceGroupId(sub, name));
  const rg = state.resourceGroup(sub, name);
  if (!rg)
    throw new AzureHttpError(404, "ResourceGroupNotFound", `Resource group '${name}' could not be found.`);
  let opId = rgDeleteOps.get(rg);
  let op = opId ? state.operations.get(opId) : undefined;
  if (op?.status !== "InProgress") {
    rg.state = "Deleting";
    op = state.startOperation("resourceGroupDelete", state.latency.resourceGroupDelete, () => {
      state.deleteResourceGroupNow(rg, ctx.armEndpoint());
    });
    opId = op.id;
    rgDeleteOps.set(rg, opId);
  }
  return {
    status: 202,
    headers: {
      location: `${ctx.armEndpoint()}/subscriptions/${sub}/operationresults/${op.id}?api-version=${req.apiVersion}`,
      "retry-after": pollRetryAfter(ctx, op.dueAt),
    },
  };
}

function operationResult(ctx: ArmContext, req: ArmRequest, id: string): EmulatorResponse {
  const op = ctx.state.operations.get(id);
  if (!op) {
    throw new AzureHttpError(404, "OperationNotFound", `The operation '${id}' could not be found.`);
  }
  if (op.status === "InProgress") {
    return {
      status: 202,
      headers: {
        location: `${ctx.armEndpoint()}${req.path}?api-version=${req.apiVersion}`,
        "retry-after": pollRetryAfter(ctx, op.dueAt),
      },
    };
  }
  if (op.status === "Succeeded") return { status: 200 };
  throw new AzureHttpError(
    409,
    op.error?.code ?? "OperationCanceled",
    op.error?.message ?? "The operation was canceled.",
  );
}

/** `GET .../resources`, the generic listing the Key Vault client's `vaults.list` uses. */
function genericResources(
  ctx: ArmContext,
  sub: string,
  rg: string | undefined,
  filter: string | null,
): unknown[] {
  const { state } = ctx;
  const typeFilter = filter ? /resourceType\s+eq\s+'([^']+)'/i.exec(filter)?.[1]?.toLowerCase() : undefined;
  const inScope = (s: string, g: string) =>
    s.toLowerCase() === sub.toLowerCase() && (rg === undefined || g.toLowerCase() === rg.toLowerCase());
  const out: { id: string; name: string; type: string; location: string; tags: Record<string, string> }[] =
    [];
  for (const c of state.clusters.values()) {
    if (inScope(c.subscriptionId, c.resourceGroup)) {
      out.push({
        id: c.id,
        name: c.name,
        type: RESOURCE_TYPES.managedCluster,
        location: c.location,
        tags: c.tags,
      });
    }
  }
  for (const v of state.vaults.values()) {
    if (inScope(v.subscriptionId, v.resourceGroup)) {
      out.push({ id: v.id, name: v.name, type: RESOURCE_TYPES.vault, location: v.location, tags: v.tags });
    }
  }
  for (const i of state.identities.values()) {
    if (inScope(i.subscriptionId, i.resourceGroup)) {
      out.push({ id: i.id, name: i.name, type: RESOURCE_TYPES.identity, location: i.location, tags: i.tags });
    }
  }
  return out
    .filter((r) => typeFilter === undefined || r.type.toLowerCase() === typeFilter)
    .map((r) => ({ ...r, location: normalizeLocation(r.location) }));
}
