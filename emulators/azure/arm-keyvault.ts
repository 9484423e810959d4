import {
  type ArmContext,
  type ArmRequest,
  authorize,
  isoTime,
  listInResourceGroup,
  listInSubscription,
  matchPath,
  methodNotAllowed,
  normalizeLocation,
  notFound,
  pollRetryAfter,
  requireLocation,
  requireSubscription,
  tagsOf,
} from "./arm-context.ts";
import { AzureHttpError, asRecord, type EmulatorResponse } from "./http.ts";
import {
  type AccessPolicy,
  type DeletedVault,
  RESOURCE_TYPES,
  resourceGroupId,
  type Vault,
} from "./state.ts";

const VAULT_READ = "Microsoft.KeyVault/vaults/read";
const VAULT_WRITE = "Microsoft.KeyVault/vaults/write";
const VAULT_DELETE = "Microsoft.KeyVault/vaults/delete";
const DELETED_READ = "Microsoft.KeyVault/deletedVaults/read";
const PURGE = "Microsoft.KeyVault/locations/deletedVaults/purge/action";
/** Key Vault made Azure RBAC the default permission model from this API version on. */
const RBAC_DEFAULT_FROM = "2026-02-01";

/** 3-24 characters, letters, digits and hyphens, a letter first, no trailing or consecutive hyphens. */
export function isValidVaultName(name: string): boolean {
  return /^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/.test(name) && !name.includes("--");
}

function invalidVaultName(name: string): AzureHttpError {
  return new AzureHttpError(
    400,
    "VaultNameNotValid",
    `The vault name '${name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens. Follow this link for more information: https://go.microsoft.com/fwlink/?linkid=2147742`,
  );
}

function alreadyExists(name: string): AzureHttpError {
  return new AzureHttpError(
    409,
    "VaultAlreadyExists",
    `The vault name '${name}' is already in use. Vault names are globally unique so it is possible that the name is already taken. If you are sure that the vault name was not taken then it is possible that a vault with the same name was recently deleted but not purged after being placed in a recoverable state. If the vault is in a recoverable state then the vault will need to be purged before reusing the name. For more information on VaultAlreadyExists, soft delete and purging a vault follow this link https://go.microsoft.com/fwlink/?linkid=2147740.`,
  );
}

export function vaultJson(vault: Vault): Record<string, unknown> {
  return {
    id: vault.id,
    name: vault.name,
    type: RESOURCE_TYPES.vault,
    location: vault.location,
    tags: vault.tags,
    properties: {
      ...vault.extraProperties,
      tenantId: vault.tenantId,
      sku: { ...vault.sku },
      accessPolicies: vault.accessPolicies,
      vaultUri: vault.vaultUri,
      enableSoftDelete: true,
      softDeleteRetentionInDays: vault.softDeleteRetentionInDays,
      enableRbacAuthorization: vault.enableRbacAuthorization,
      ...(vault.enablePurgeProtection ? { enablePurgeProtection: true } : {}),
      provisioningState: vault.provisioningState,
      publicNetworkAccess:
        typeof vault.extraProperties.publicNetworkAccess === "string"
          ? vault.extraProperties.publicNetworkAccess
          : "Enabled",
    },
  };
}

function deletedVaultJson(d: DeletedVault): Record<string, unknown> {
  const v = d.vault;
  return {
    id: `/subscriptions/${v.subscriptionId}/providers/Microsoft.KeyVault/locations/${v.location}/deletedVaults/${v.name}`,
    name: v.name,
    type: RESOURCE_TYPES.deletedVault,
    properties: {
      vaultId: v.id,
      location: v.location,
      deletionDate: isoTime(d.deletionDate),
      scheduledPurgeDate: isoTime(d.scheduledPurgeDate),
      tags: v.tags,
      purgeProtectionEnabled: v.enablePurgeProtection,
    },
  };
}

function vaultId(sub: string, rg: string, name: string): string {
  return `${resourceGroupId(sub, rg)}/providers/Microsoft.KeyVault/vaults/${name}`;
}

function accessPoliciesOf(value: unknown): AccessPolicy[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw new AzureHttpError(400, "BadRequest", "properties.accessPolicies must be a list.");
  return value.map((entry) => {
    const e = asRecord(entry);
    const permissions = asRecord(e?.permissions) ?? {};
    const strings = (v: unknown) =>
      Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
    if (typeof e?.objectId !== "string" || typeof e.tenantId !== "string") {
      throw new AzureHttpError(400, "BadRequest", "Each access policy needs tenantId and objectId.");
    }
    const policy: AccessPolicy = {
      tenantId: e.tenantId,
      objectId: e.objectId,
      permissions: {
        keys: strings(permissions.keys),
        secrets: strings(permissions.secrets),
        certificates: strings(permissions.certificates),
        storage: strings(permissions.storage),
      },
    };
    if (typeof e.applicationId === "string") policy.applicationId = e.applicationId;
    return policy;
  });
}

interface VaultSpec {
  location: string;
  tags: Record<string, string>;
  tenantId: string;
  sku: { family: string; name: string };
  enableRbacAuthorization: boolean;
  softDeleteRetentionInDays: number;
  enablePurgeProtection: boolean;
  accessPolicies: AccessPolicy[];
  extraProperties: Record<string, unknown>;
  createMode: string;
}

const MANAGED_PROPERTIES = new Set([
  "tenantId",
  "sku",
  "accessPolicies",
  "vaultUri",
  "enableSoftDelete",
  "softDeleteRetentionInDays",
  "enableRbacAuthorization",
  "enablePurgeProtection",
  "provisioningState",
  "createMode",
  "hsmPoolResourceId",
  "privateEndpointConnections",
]);

function vaultSpec(body: Record<string, unknown>, apiVersion: string): VaultSpec {
  const location = requireLocation(body);
  const props = asRecord(body.properties);
  if (!props) throw new AzureHttpError(400, "BadRequest", "The request body must contain 'properties'.");
  if (typeof props.tenantId !== "string" || props.tenantId === "") {
    throw new AzureHttpError(400, "BadRequest", "The property 'properties.tenantId' is required.");
  }
  const sku = asRecord(props.sku);
  if (!sku || typeof sku.name !== "string") {
    throw new AzureHttpError(
      400,
      "BadRequest",
      "The property 'properties.sku' with 'family' and 'name' is required.",
    );
  }
  if (props.enableSoftDelete === false) {
    throw new AzureHttpError(
      400,
      "BadRequest",
      "Soft delete cannot be disabled: the property 'enableSoftDelete' can only be true. See https://aka.ms/softdeletechange",
    );
  }
  const retention = props.softDeleteRetentionInDays ?? 90;
  if (typeof retention !== "number" || !Number.isInteger(retention) || retention < 7 || retention > 90) {
    throw new AzureHttpError(
      400,
      "BadRequest",
      "softDeleteRetentionInDays must be an integer between 7 and 90.",
    );
  }
  const rbac = props.enableRbacAuthorization;
  const extraProperties: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) if (!MANAGED_PROPERTIES.has(k)) extraProperties[k] = v;
  return {
    location,
    tags: tagsOf(body.tags),
    tenantId: props.tenantId,
    sku: { family: typeof sku.family === "string" ? sku.family : "A", name: sku.name },
    enableRbacAuthorization: typeof rbac === "boolean" ? rbac : apiVersion >= RBAC_DEFAULT_FROM,
    softDeleteRetentionInDays: retention,
    enablePurgeProtection: props.enablePurgeProtection === true,
    accessPolicies: accessPoliciesOf(props.accessPolicies),
    extraProperties,
    createMode: typeof props.createMode === "string" ? props.createMode.toLowerCase() : "default",
  };
}

const purgeOps = new WeakMap<DeletedVault, string>();

export async function keyVaultRoutes(
  ctx: ArmContext,
  req: ArmRequest,
): Promise<EmulatorResponse | undefined> {
  const { state } = ctx;
  const s = req.segments;

  let p = matchPath(s, "subscriptions/{sub}/providers/Microsoft.KeyVault/vaults");
  if (p) {
    return listInSubscription(
      ctx,
      req,
      p.sub ?? "",
      VAULT_READ,
      state.vaults.values(),
      (x) => x.subscriptionId,
      vaultJson,
    );
  }

  p = matchPath(s, "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults");
  if (p) {
    return listInResourceGroup(
      ctx,
      req,
      p.sub ?? "",
      p.rg ?? "",
      VAULT_READ,
      state.vaults.values(),
      vaultJson,
    );
  }

  p = matchPath(s, "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}");
  if (p) {
    const sub = p.sub ?? "";
    const rg = p.rg ?? "";
    const name = p.name ?? "";
    requireSubscription(ctx, sub);
    const id = vaultId(sub, rg, name);
    switch (req.method) {
      case "GET": {
        state.requireResourceGroup(sub, rg, false);
        authorize(ctx, req, VAULT_READ, id);
        await ctx.delay("armRead");
        const vault = state.vaults.get(id.toLowerCase());
        if (!vault) throw notFound(RESOURCE_TYPES.vault, name, rg);
        const headers: Record<string, string> =
          vault.provisioningState === "Succeeded" ? {} : { "retry-after": vaultRetryAfter(ctx, vault) };
        return { status: 200, body: vaultJson(vault), headers };
      }
      case "PUT":
        return putVault(ctx, req, sub, rg, name);
      case "PATCH":
        return patchVault(ctx, req, sub, rg, name);
      case "DELETE": {
        state.requireResourceGroup(sub, rg, false);
        authorize(ctx, req, VAULT_DELETE, id);
        const vault = state.vaults.get(id.toLowerCase());
        if (!vault) return { status: 204 };
        await ctx.delay("vaultDelete");
        if (state.vaults.get(id.toLowerCase()) === vault) state.softDeleteVault(vault);
        return { status: 200 };
      }
      default:
        methodNotAllowed(req.method);
    }
  }

  p = matchPath(s, "subscriptions/{sub}/providers/Microsoft.KeyVault/checkNameAvailability");
  if (p) {
    requireSubscription(ctx, p.sub ?? "");
    if (req.method !== "POST") methodNotAllowed(req.method);
    const body = await req.body();
    await ctx.delay("armRead");
    const name = typeof body.name === "string" ? body.name : "";
    if (!isValidVaultName(name)) {
      return {
        status: 200,
        body: { nameAvailable: false, reason: "AccountNameInvalid", message: invalidVaultName(name).message },
      };
    }
    const taken = state.liveVaultByName(name) !== undefined || state.deletedVaults.has(name.toLowerCase());
    return {
      status: 200,
      body: taken
        ? {
            nameAvailable: false,
            reason: "AlreadyExists",
            message: `The vault name '${name}' is already in use.`,
          }
        : { nameAvailable: true },
    };
  }

  p = matchPath(s, "subscriptions/{sub}/providers/Microsoft.KeyVault/deletedVaults");
  if (p) {
    return listInSubscription(
      ctx,
      req,
      p.sub ?? "",
      DELETED_READ,
      state.deletedVaults.values(),
      (d) => d.vault.subscriptionId,
      deletedVaultJson,
    );
  }

  p =
    matchPath(s, "subscriptions/{sub}/providers/Microsoft.KeyVault/locations/{loc}/deletedVaults/{name}") ??
    matchPath(
      s,
      "subscriptions/{sub}/providers/Microsoft.KeyVault/locations/{loc}/deletedVaults/{name}/purge",
    );
  if (p) {
    const sub = p.sub ?? "";
    requireSubscription(ctx, sub);
    const purge = s.length === 9;
    if (req.method !== (purge ? "POST" : "GET")) methodNotAllowed(req.method);
    authorize(ctx, req, purge ? PURGE : DELETED_READ, `/subscriptions/${sub}`);
    const deleted = state.deletedVaults.get((p.name ?? "").toLowerCase());
    if (
      !deleted ||
      deleted.vault.subscriptionId.toLowerCase() !== sub.toLowerCase() ||
      deleted.vault.location !== normalizeLocation(p.loc ?? "")
    ) {
      throw new AzureHttpError(
        404,
        "ResourceNotFound",
        `The deleted vault '${p.name}' was not found in location '${p.loc}' of subscription '${sub}'.`,
      );
    }
    if (!purge) {
      await ctx.delay("armRead");
      return { status: 200, body: deletedVaultJson(deleted) };
    }
    return purgeVault(ctx, req, sub, deleted);
  }

  p = matchPath(s, "subscriptions/{sub}/providers/Microsoft.KeyVault/locations/{loc}/operationResults/{id}");
  if (p) {
    requireSubscription(ctx, p.sub ?? "");
    if (req.method !== "GET") methodNotAllowed(req.method);
    const op = state.operations.get(p.id ?? "");
    if (!op)
      throw new AzureHttpError(404, "OperationNotFound", `The operation '${p.id}' could not be found.`);
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
  return undefined;
}

const vaultCreateOps = new WeakMap<Vault, string>();

function vaultRetryAfter(ctx: ArmContext, vault: Vault): string {
  const op = ctx.state.operations.get(vaultCreateOps.get(vault) ?? "");
  return pollRetryAfter(ctx, op?.dueAt ?? ctx.state.clock.now());
}

async function putVault(
  ctx: ArmContext,
  req: ArmRequest,
  sub: string,
  rg: string,
  name: string,
): Promise<EmulatorResponse> {
  const { state } = ctx;
  const group = state.requireResourceGroup(sub, rg, true);
  const id = vaultId(sub, group.name, name);
  authorize(ctx, req, VAULT_WRITE, id);
  if (!isValidVaultName(name)) throw invalidVaultName(name);
  const spec = vaultSpec(await req.body(), req.apiVersion);
  const existing = state.vaults.get(id.toLowerCase());
  if (existing) {
    if (existing.location !== spec.location) {
      throw new AzureHttpError(
        400,
        "InvalidResourceLocation",
        `The resource '${name}' already exists in location '${existing.location}' in resource group '${rg}'. A resource with the same name cannot be created in location '${spec.location}'. Please select a new resource name.`,
      );
    }
    if (existing.enablePurgeProtection && !spec.enablePurgeProtection) {
      throw new AzureHttpError(400, "BadRequest", "Purge protection cannot be disabled once it is enabled.");
    }
    await ctx.delay("vaultUpdate");
    Object.assign(existing, {
      tags: spec.tags,
      tenantId: spec.tenantId,
      sku: spec.sku,
      enableRbacAuthorization: spec.enableRbacAuthorization,
      softDeleteRetentionInDays: spec.softDeleteRetentionInDays,
      enablePurgeProtection: spec.enablePurgeProtection,
      accessPolicies: spec.accessPolicies,
      extraProperties: spec.extraProperties,
    });
    return { status: 200, body: vaultJson(existing) };
  }

  const deleted = state.deletedVaults.get(name.toLowerCase());
  if (spec.createMode === "recover") {
    if (!deleted || deleted.vault.subscriptionId.toLowerCase() !== sub.toLowerCase()) {
      throw new AzureHttpError(
        404,
        "ResourceNotFound",
        `No deleted vault named '${name}' was found in subscription '${sub}' to recover.`,
      );
    }
    if (deleted.purging) throw alreadyExists(name);
    if (deleted.vault.id.toLowerCase() !== id.toLowerCase()) {
      throw new AzureHttpError(
        400,
        "BadRequest",
        `The deleted vault '${name}' belonged to '${deleted.vault.id}'; recover it into the same resource group.`,
      );
    }
    return createOrRecover(ctx, deleted.vault, true);
  }
  if (state.liveVaultByName(name)) throw alreadyExists(name);
  if (deleted) {
    if (deleted.vault.subscriptionId.toLowerCase() !== sub.toLowerCase()) throw alreadyExists(name);
    throw new AzureHttpError(
      409,
      "ConflictError",
      "A vault with the same name already exists in deleted state. You need to either recover or purge existing key vault. Follow this link https://go.microsoft.com/fwlink/?linkid=2149745 for more information on soft delete.",
    );
  }
  const vaultUri = await ctx.vaultEndpoint(name);
  // The listener start awaited: a concurrent create of the same name may have won meanwhile.
  if (state.liveVaultByName(name) || state.deletedVaults.has(name.toLowerCase())) throw alreadyExists(name);
  const vault: Vault = {
    id,
    subscriptionId: sub,
    resourceGroup: group.name,
    name,
    location: spec.location,
    tags: spec.tags,
    tenantId: spec.tenantId,
    sku: spec.sku,
    enableRbacAuthorization: spec.enableRbacAuthorization,
    softDeleteRetentionInDays: spec.softDeleteRetentionInDays,
    enablePurgeProtection: spec.enablePurgeProtection,
    accessPolicies: spec.accessPolicies,
    extraProperties: spec.extraProperties,
    provisioningState: "RegisteringDns",
    vaultUri,
    secrets: new Map(),
  };
  return createOrRecover(ctx, vault, false);
}

/**
 * Puts the vault in place as RegisteringDns; it turns Succeeded (and its data
 * plane starts answering) when the create latency has passed. The client
 * polls the vault itself (no operation header), as with Key Vault.
 */
function createOrRecover(ctx: ArmContext, vault: Vault, recovering: boolean): EmulatorResponse {
  const { state } = ctx;
  if (recovering) {
    state.deletedVaults.delete(vault.name.toLowerCase());
    state.count(RESOURCE_TYPES.deletedVault, "deleted");
  }
  vault.provisioningState = "RegisteringDns";
  state.vaults.set(vault.id.toLowerCase(), vault);
  state.count(RESOURCE_TYPES.vault, "created");
  const op = state.startOperation("vaultCreate", state.latency.vaultCreate, () => {
    if (state.vaults.get(vault.id.toLowerCase()) !== vault) return;
    vault.provisioningState = "Succeeded";
    state.onVaultReachability(vault.name, true);
  });
  vaultCreateOps.set(vault, op.id);
  return { status: recovering ? 200 : 201, body: vaultJson(vault) };
}

async function patchVault(
  ctx: ArmContext,
  req: ArmRequest,
  sub: string,
  rg: string,
  name: string,
): Promise<EmulatorResponse> {
  const { state } = ctx;
  state.requireResourceGroup(sub, rg, true);
  const id = vaultId(sub, rg, name);
  authorize(ctx, req, VAULT_WRITE, id);
  const vault = state.vaults.get(id.toLowerCase());
  if (!vault) throw notFound(RESOURCE_TYPES.vault, name, rg);
  const body = await req.body();
  await ctx.delay("vaultUpdate");
  if (body.tags !== undefined) vault.tags = tagsOf(body.tags);
  const props = asRecord(body.properties) ?? {};
  if (typeof props.enableRbacAuthorization === "boolean")
    vault.enableRbacAuthorization = props.enableRbacAuthorization;
  if (props.enablePurgeProtection === true) vault.enablePurgeProtection = true;
  if (props.enablePurgeProtection === false && vault.enablePurgeProtection) {
    throw new AzureHttpError(400, "BadRequest", "Purge protection cannot be disabled once it is enabled.");
  }
  if (props.accessPolicies !== undefined) vault.accessPolicies = accessPoliciesOf(props.accessPolicies);
  if (typeof props.publicNetworkAccess === "string")
    vault.extraProperties.publicNetworkAccess = props.publicNetworkAccess;
  return { status: 200, body: vaultJson(vault) };
}

function purgeVault(ctx: ArmContext, req: ArmRequest, sub: string, deleted: DeletedVault): EmulatorResponse {
  const { state } = ctx;
  if (deleted.vault.enablePurgeProtection) {
    throw new AzureHttpError(
      409,
      "OperationNotAllowed",
      `The vault '${deleted.vault.name}' has purge protection enabled: it cannot be purged before ${isoTime(deleted.scheduledPurgeDate)}.`,
    );
  }
  let op = state.operations.get(purgeOps.get(deleted) ?? "");
  if (op?.status !== "InProgress") {
    deleted.purging = true;
    op = state.startOperation("vaultPurge", state.latency.vaultPurge, () => {
      state.purgeDeletedVault(deleted.vault.name);
    });
    purgeOps.set(deleted, op.id);
  }
  return {
    status: 202,
    headers: {
      location: `${ctx.armEndpoint()}/subscriptions/${sub}/providers/Microsoft.KeyVault/locations/${deleted.vault.location}/operationResults/${op.id}?api-version=${req.apiVersion}`,
      "retry-after": pollRetryAfter(ctx, op.dueAt),
    },
  };
}
