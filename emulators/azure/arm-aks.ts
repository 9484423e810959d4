import { aadProfileJson, entraManaged, entraUserKubeconfig, validateAadProfile } from "./aks-entra.ts";
import { clusterPools, computeInUse } from "./arm-compute.ts";
import {
  type ArmContext,
  type ArmRequest,
  authorize,
  isoTime,
  listInResourceGroup,
  listInSubscription,
  matchPath,
  methodNotAllowed,
  notFound,
  pollRetryAfter,
  requireLocation,
  requireSubscription,
  tagsOf,
} from "./arm-context.ts";
import { ComputeModel, quotaExceeded, sizeNotAllowed } from "./compute.ts";
import { AzureHttpError, asRecord, type EmulatorResponse } from "./http.ts";
import { buildKubeconfig } from "./kubeconfig.ts";
import {
  DEFAULT_KUBERNETES_VERSION,
  keyVaultAddon,
  type ManagedCluster,
  type Operation,
  RESOURCE_TYPES,
  resourceGroupId,
} from "./state.ts";

const AKS_READ = "Microsoft.ContainerService/managedClusters/read";
const AKS_WRITE = "Microsoft.ContainerService/managedClusters/write";
const AKS_DELETE = "Microsoft.ContainerService/managedClusters/delete";
const AKS_USER_CREDENTIAL = "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action";
const AKS_ADMIN_CREDENTIAL = "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action";
const ADDON_KEY = "azureKeyvaultSecretsProvider";
const NODE_IMAGE = "AKSUbuntu-2204gen2containerd-202601.07.0";
/** Go durations as the CSI driver's rotation poll interval accepts them ("1m", "2m0s", "90s"). */
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

const CLUSTER_NAME = /^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$/;
const POOL_NAME = /^[a-z][a-z0-9]{0,11}$/;

function clusterId(sub: string, rg: string, name: string): string {
  return `${resourceGroupId(sub, rg)}/providers/Microsoft.ContainerService/managedClusters/${name}`;
}

const invalid = (message: string) => new AzureHttpError(400, "InvalidParameter", message);

/** Removes what AKS never echoes back (passwords, client secrets). */
function withoutSecrets(props: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(props);
  const sp = asRecord(copy.servicePrincipalProfile);
  if (sp) delete sp.secret;
  const win = asRecord(copy.windowsProfile);
  if (win) delete win.adminPassword;
  const aad = asRecord(copy.aadProfile);
  if (aad) delete aad.serverAppSecret;
  for (const key of [
    "provisioningState",
    "powerState",
    "fqdn",
    "azurePortalFQDN",
    "currentKubernetesVersion",
    "identityProfile",
    "maxAgentPools",
  ]) {
    delete copy[key];
  }
  return copy;
}

function validateProperties(props: Record<string, unknown>): void {
  const pools = props.agentPoolProfiles;
  if (!Array.isArray(pools) || pools.length === 0) {
    throw invalid("The managed cluster must have at least one agent pool in properties.agentPoolProfiles.");
  }
  let system = 0;
  pools.forEach((raw, i) => {
    const pool = asRecord(raw);
    if (!pool) throw invalid(`properties.agentPoolProfiles[${i}] must be an object.`);
    const name = pool.name;
    if (typeof name !== "string" || !POOL_NAME.test(name)) {
      throw invalid(
        `Agent pool name '${String(name ?? "")}' is invalid: it must start with a lowercase letter and contain only lowercase letters and numbers, at most 12 characters.`,
      );
    }
    const count = pool.count ?? 1;
    if (typeof count !== "number" || !Number.isInteger(count) || count < 0 || count > 1000) {
      throw invalid(`Agent pool '${name}' count must be an integer between 0 and 1000.`);
    }
    const mode = pool.mode ?? (i === 0 ? "System" : "User");
    if (mode === "System") {
      if (count < 1) throw invalid(`System agent pool '${name}' needs at least one node.`);
      system += 1;
    }
  });
  if (system === 0) throw invalid("The managed cluster needs at least one agent pool with mode 'System'.");
  const oidc = asRecord(props.oidcIssuerProfile);
  const wi = asRecord(asRecord(props.securityProfile)?.workloadIdentity);
  if (wi?.enabled === true && oidc?.enabled !== true) {
    throw invalid(
      "Enabling workload identity requires the OIDC issuer: set properties.oidcIssuerProfile.enabled to true.",
    );
  }
  const addons = asRecord(props.addonProfiles);
  const addon = addons ? asRecord(addons[ADDON_KEY]) : undefined;
  const config = asRecord(addon?.config);
  if (config) {
    const rotation = config.enableSecretRotation;
    if (rotation !== undefined && rotation !== "true" && rotation !== "false") {
      throw invalid(`addonProfiles.${ADDON_KEY}.config.enableSecretRotation must be "true" or "false".`);
    }
    const interval = config.rotationPollInterval;
    if (interval !== undefined && (typeof interval !== "string" || !GO_DURATION.test(interval))) {
      throw invalid(
        `addonProfiles.${ADDON_KEY}.config.rotationPollInterval '${String(interval)}' is not a valid duration such as "2m" or "90s".`,
      );
    }
  }
}

function clusterJson(ctx: ArmContext, c: ManagedCluster): Record<string, unknown> {
  const { state } = ctx;
  const req = c.requested;
  const provisioningState = c.state;
  const pools = (Array.isArray(req.agentPoolProfiles) ? req.agentPoolProfiles : []).map((raw, i) => {
    const pool = asRecord(raw) ?? {};
    return {
      ...pool,
      count: pool.count ?? 1,
      vmSize: pool.vmSize ?? "Standard_DS2_v2",
      osDiskSizeGB: pool.osDiskSizeGB ?? 128,
      osDiskType: pool.osDiskType ?? "Managed",
      maxPods: pool.maxPods ?? 250,
      type: pool.type ?? "VirtualMachineScaleSets",
      mode: pool.mode ?? (i === 0 ? "System" : "User"),
      osType: pool.osType ?? "Linux",
      osSKU: pool.osSKU ?? "Ubuntu",
      orchestratorVersion: c.kubernetesVersion,
      currentOrchestratorVersion: c.kubernetesVersion,
      nodeImageVersion: NODE_IMAGE,
      enableNodePublicIP: pool.enableNodePublicIP ?? false,
      provisioningState,
      powerState: { code: "Running" },
    };
  });
  const addonProfiles: Record<string, unknown> = { ...(asRecord(req.addonProfiles) ?? {}) };
  const addon = asRecord(addonProfiles[ADDON_KEY]);
  if (addon) {
    const config = asRecord(addon.config) ?? {};
    const identity = c.addonIdentityId ? state.identities.get(c.addonIdentityId.toLowerCase()) : undefined;
    addonProfiles[ADDON_KEY] = {
      ...addon,
      config: {
        ...config,
        enableSecretRotation: config.enableSecretRotation ?? "false",
        rotationPollInterval: config.rotationPollInterval ?? "2m",
      },
      ...(addon.enabled === true && identity
        ? {
            identity: {
              resourceId: identity.id,
              clientId: identity.clientId,
              objectId: identity.principalId,
            },
          }
        : {}),
    };
  }
  const kubelet = state.identities.get(c.kubeletIdentityId.toLowerCase());
  const identityType = String(c.identityRequest.type ?? "SystemAssigned");
  let identity: Record<string, unknown>;
  if (identityType.toLowerCase() === "userassigned") {
    const requested = asRecord(c.identityRequest.userAssignedIdentities) ?? {};
    const resolved: Record<string, unknown> = {};
    for (const key of Object.keys(requested)) {
      const found = state.identities.get(key.toLowerCase());
      resolved[key] = found ? { clientId: found.clientId, principalId: found.principalId } : {};
    }
    identity = { type: "UserAssigned", userAssignedIdentities: resolved };
  } else {
    identity = { type: "SystemAssigned", principalId: c.systemPrincipalId, tenantId: state.tenantId };
  }
  return {
    id: c.id,
    name: c.name,
    type: "Microsoft.ContainerService/ManagedClusters",
    location: c.location,
    tags: c.tags,
    sku: c.sku,
    identity,
    properties: {
      ...req,
      provisioningState,
      powerState: { code: "Running" },
      kubernetesVersion: c.kubernetesVersion,
      currentKubernetesVersion: c.kubernetesVersion,
      dnsPrefix: c.dnsPrefix,
      fqdn: c.fqdn,
      azurePortalFQDN: c.fqdn.replace(".hcp.", ".portal.hcp."),
      agentPoolProfiles: pools,
      addonProfiles,
      nodeResourceGroup: c.nodeResourceGroup,
      enableRBAC: req.enableRBAC ?? true,
      supportPlan: req.supportPlan ?? "KubernetesOfficial",
      maxAgentPools: 100,
      oidcIssuerProfile: c.oidcEnabled
        ? { enabled: true, issuerURL: state.issuerUrl(c, ctx.armEndpoint()) }
        : { enabled: false },
      securityProfile: asRecord(req.securityProfile) ?? {},
      ...(req.aadProfile !== undefined ? { aadProfile: aadProfileJson(req.aadProfile, state.tenantId) } : {}),
      identityProfile: kubelet
        ? {
            kubeletidentity: {
              resourceId: kubelet.id,
              clientId: kubelet.clientId,
              objectId: kubelet.principalId,
            },
          }
        : {},
      networkProfile: {
        networkPlugin: "azure",
        networkPluginMode: "overlay",
        networkPolicy: "none",
        networkDataplane: "azure",
        loadBalancerSku: "standard",
        outboundType: "loadBalancer",
        podCidr: "10.244.0.0/16",
        serviceCidr: "10.0.0.0/16",
        dnsServiceIP: "10.0.0.10",
        podCidrs: ["10.244.0.0/16"],
        serviceCidrs: ["10.0.0.0/16"],
        ipFamilies: ["IPv4"],
        ...(asRecord(req.networkProfile) ?? {}),
      },
    },
  };
}

function asyncOperationUrl(ctx: ArmContext, c: ManagedCluster, op: Operation, apiVersion: string): string {
  return `${ctx.armEndpoint()}/subscriptions/${c.subscriptionId}/providers/Microsoft.ContainerService/locations/${c.location}/operations/${op.id}?api-version=${apiVersion}`;
}

function ensureAddonIdentity(ctx: ArmContext, c: ManagedCluster): void {
  const addon = keyVaultAddon(c.requested);
  if (!addon?.enabled || c.addonIdentityId) return;
  const identity = ctx.state.createIdentity({
    subscriptionId: c.subscriptionId,
    resourceGroup: c.nodeResourceGroup,
    name: `azurekeyvaultsecretsprovider-${c.name}`,
    location: c.location,
    tags: {},
  });
  c.addonIdentityId = identity.id;
}

export async function aksRoutes(ctx: ArmContext, req: ArmRequest): Promise<EmulatorResponse | undefined> {
  const { state } = ctx;
  const s = req.segments;

  let p = matchPath(s, "subscriptions/{sub}/providers/Microsoft.ContainerService/managedClusters");
  if (p) {
    return listInSubscription(
      ctx,
      req,
      p.sub ?? "",
      AKS_READ,
      state.clusters.values(),
      (x) => x.subscriptionId,
      (c) => clusterJson(ctx, c),
    );
  }

  p = matchPath(
    s,
    "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters",
  );
  if (p) {
    return listInResourceGroup(ctx, req, p.sub ?? "", p.rg ?? "", AKS_READ, state.clusters.values(), (c) =>
      clusterJson(ctx, c),
    );
  }

  p = matchPath(
    s,
    "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}",
  );
  if (p) {
    const sub = p.sub ?? "";
    const rg = p.rg ?? "";
    const name = p.name ?? "";
    requireSubscription(ctx, sub);
    const id = clusterId(sub, rg, name);
    switch (req.method) {
      case "GET": {
        state.requireResourceGroup(sub, rg, false);
        authorize(ctx, req, AKS_READ, id);
        await ctx.delay("armRead");
        const c = state.clusterById(id);
        if (!c) throw notFound(RESOURCE_TYPES.managedCluster, name, rg);
        return { status: 200, body: clusterJson(ctx, c) };
      }
      case "PUT":
        return putCluster(ctx, req, sub, rg, name);
      case "DELETE":
        return deleteCluster(ctx, req, sub, rg, name);
      default:
        methodNotAllowed(req.method);
    }
  }

  p =
    matchPath(
      s,
      "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}/listClusterUserCredential",
    ) ??
    matchPath(
      s,
      "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}/listClusterAdminCredential",
    );
  if (p) {
    const sub = p.sub ?? "";
    const rg = p.rg ?? "";
    const name = p.name ?? "";
    const admin = (s.at(-1) ?? "").toLowerCase() === "listclusteradmincredential";
    requireSubscription(ctx, sub);
    if (req.method !== "POST") methodNotAllowed(req.method);
    state.requireResourceGroup(sub, rg, false);
    const id = clusterId(sub, rg, name);
    authorize(ctx, req, admin ? AKS_ADMIN_CREDENTIAL : AKS_USER_CREDENTIAL, id);
    const c = state.clusterById(id);
    if (!c) throw notFound(RESOURCE_TYPES.managedCluster, name, rg);
    if (admin && c.requested.disableLocalAccounts === true) {
      throw new AzureHttpError(
        400,
        "BadRequest",
        "Getting static credential is not allowed because this cluster is set to disable local accounts.",
      );
    }
    await ctx.delay("listClusterUserCredential");
    const info = state.clusterInfo(c, ctx.armEndpoint());
    const endpoint = (c.ready ? state.kubernetesEndpointProvider?.(info) : undefined) ?? {
      // No Kubernetes emulator serves this cluster: the shape stays valid, the server is unreachable.
      server: `https://${c.fqdn}:443`,
      caPem: ctx.caPem,
      token: c.kubeconfigToken,
    };
    if (!admin && entraManaged(c.requested)) {
      // Entra-integrated: the user signs in with kubelogin (aks-entra.ts); no static credential in it.
      const kubeconfig = entraUserKubeconfig({
        clusterName: c.name,
        resourceGroup: c.resourceGroup,
        endpoint,
        tenantId: state.tenantId,
        format: req.query.get("format"),
      });
      return {
        status: 200,
        body: { kubeconfigs: [{ name: "clusterUser", value: Buffer.from(kubeconfig).toString("base64") }] },
      };
    }
    const kubeconfig = buildKubeconfig({
      clusterName: c.name,
      resourceGroup: c.resourceGroup,
      endpoint,
      admin,
    });
    const credential = admin ? "clusterAdmin" : "clusterUser";
    return {
      status: 200,
      body: { kubeconfigs: [{ name: credential, value: Buffer.from(kubeconfig).toString("base64") }] },
    };
  }

  p =
    matchPath(
      s,
      "subscriptions/{sub}/providers/Microsoft.ContainerService/locations/{loc}/operations/{id}",
    ) ??
    matchPath(
      s,
      "subscriptions/{sub}/providers/Microsoft.ContainerService/locations/{loc}/operationresults/{id}",
    );
  if (p) {
    requireSubscription(ctx, p.sub ?? "");
    if (req.method !== "GET") methodNotAllowed(req.method);
    const op = state.operations.get(p.id ?? "");
    if (!op) throw new AzureHttpError(404, "NotFound", `Operation '${p.id}' was not found.`);
    const retry: Record<string, string> =
      op.status === "InProgress" ? { "retry-after": pollRetryAfter(ctx, op.dueAt) } : {};
    if ((s[6] ?? "").toLowerCase() === "operationresults") {
      return op.status === "InProgress" ? { status: 202, headers: retry } : { status: 204 };
    }
    return {
      status: 200,
      headers: retry,
      body: {
        name: op.id,
        status: op.status,
        startTime: isoTime(op.startTime),
        ...(op.endTime !== undefined ? { endTime: isoTime(op.endTime) } : {}),
        ...(op.error ? { error: op.error } : {}),
      },
    };
  }
  return undefined;
}

/** Read through a function so a check repeated after an await is not narrowed away. */
function running(c: ManagedCluster): boolean {
  return c.operation?.status === "InProgress";
}

function busy(c: ManagedCluster): AzureHttpError {
  const verb = c.state === "Creating" ? "create" : c.state === "Deleting" ? "delete" : "update";
  return new AzureHttpError(
    409,
    "OperationNotAllowed",
    `Operation is not allowed because there's an in progress ${verb} managed cluster operation (${c.operation?.id ?? "unknown"}) started at ${isoTime(c.operation?.startTime ?? 0)}. Please wait for it to finish before starting a new operation. See https://aka.ms/aks-pending-operation for more details.`,
  );
}

/**
 * AKS checks the node pools before it accepts a create or a scale: a size the
 * subscription may not use in the location, then the vCPUs the change adds
 * against the regional and family quotas (what the other clusters there take,
 * plus this cluster's pools before the change). Called after the last await of
 * the PUT, so the check and the change it allows are one step.
 */
function checkCompute(
  ctx: ArmContext,
  cluster: { name: string; resourceGroup: string; location: string; subscriptionId: string },
  requested: Record<string, unknown>,
  existing: ManagedCluster | undefined,
): void {
  const pools = clusterPools({ requested });
  for (const pool of pools) {
    if (ctx.compute.isRestricted(pool.vmSize))
      throw sizeNotAllowed(ctx.compute, pool.vmSize, cluster.location);
  }
  const inUse = computeInUse(ctx.state, cluster.subscriptionId, cluster.location, existing);
  const before = ComputeModel.demand(existing ? clusterPools(existing) : []);
  for (const [usage, n] of before) inUse.set(usage, (inUse.get(usage) ?? 0) + n);
  const extra = new Map<string, number>();
  for (const [usage, n] of ComputeModel.demand(pools)) extra.set(usage, n - (before.get(usage) ?? 0));
  const shortfall = ctx.compute.shortfall(inUse, extra);
  if (shortfall) throw quotaExceeded(cluster, shortfall);
}

async function putCluster(
  ctx: ArmContext,
  req: ArmRequest,
  sub: string,
  rg: string,
  name: string,
): Promise<EmulatorResponse> {
  const { state } = ctx;
  const group = state.requireResourceGroup(sub, rg, true);
  const id = clusterId(sub, group.name, name);
  authorize(ctx, req, AKS_WRITE, id);
  if (!CLUSTER_NAME.test(name)) {
    throw new AzureHttpError(
      400,
      "InvalidResourceName",
      `Resource name '${name}' is invalid. A managed cluster name can be 1-63 characters long, must start and end with a letter or number, and can contain only letters, numbers, hyphens and underscores.`,
    );
  }
  const existing = state.clusterById(id);
  if (existing && running(existing)) throw busy(existing);
  const body = await req.body();
  const location = requireLocation(body);
  const props = asRecord(body.properties);
  if (!props) throw invalid("The request body must contain 'properties'.");
  validateProperties(props);
  validateAadProfile(props, existing?.requested);
  const requested = withoutSecrets(props);
  const tags = tagsOf(body.tags);
  const skuIn = asRecord(body.sku);
  const sku = {
    name: typeof skuIn?.name === "string" ? skuIn.name : "Base",
    tier: typeof skuIn?.tier === "string" ? skuIn.tier : "Free",
  };
  const identityRequest = asRecord(body.identity) ?? { type: "SystemAssigned" };
  const oidcWanted = asRecord(props.oidcIssuerProfile)?.enabled === true;
  const version =
    typeof props.kubernetesVersion === "string" && props.kubernetesVersion !== ""
      ? props.kubernetesVersion
      : DEFAULT_KUBERNETES_VERSION;

  if (existing) {
    if (existing.location !== location) {
      throw new AzureHttpError(
        400,
        "InvalidResourceLocation",
        `The resource '${name}' already exists in location '${existing.location}' in resource group '${rg}'. A resource with the same name cannot be created in location '${location}'. Please select a new resource name.`,
      );
    }
    if (existing.oidcEnabled && !oidcWanted) {
      throw invalid("The OIDC issuer cannot be disabled once it is enabled on a cluster.");
    }
    await ctx.delay("armWrite");
    if (running(existing)) throw busy(existing);
    checkCompute(ctx, existing, requested, existing);
    existing.requested = requested;
    existing.tags = tags;
    existing.sku = sku;
    existing.kubernetesVersion = version;
    existing.oidcEnabled = oidcWanted;
    existing.state = "Updating";
    ensureAddonIdentity(ctx, existing);
    const op = state.startOperation("managedClusterUpdate", state.latency.managedClusterUpdate, () => {
      existing.state = "Succeeded";
      existing.operation = undefined;
      const wasReady = existing.ready;
      existing.ready = true;
      state.emitCluster({
        type: wasReady ? "updated" : "created",
        cluster: state.clusterInfo(existing, ctx.armEndpoint()),
      });
    });
    existing.operation = op;
    return {
      status: 200,
      body: clusterJson(ctx, existing),
      headers: { "azure-asyncoperation": asyncOperationUrl(ctx, existing, op, req.apiVersion) },
    };
  }

  const issuerKey = await ctx.newIssuerKey();
  await ctx.delay("armWrite");
  const raced = state.clusterById(id);
  if (raced) throw busy(raced);
  checkCompute(ctx, { name, resourceGroup: group.name, location, subscriptionId: sub }, requested, undefined);
  const guid = state.ids.guid();
  const dnsPrefix =
    typeof props.dnsPrefix === "string" && props.dnsPrefix !== ""
      ? props.dnsPrefix
      : `${name}-${group.name}-${sub.slice(0, 6)}`.replace(/[^a-zA-Z0-9-]/g, "").slice(0, 54);
  const nodeResourceGroup =
    typeof props.nodeResourceGroup === "string" && props.nodeResourceGroup !== ""
      ? props.nodeResourceGroup
      : `MC_${group.name}_${name}_${location}`.slice(0, 80);
  const systemPrincipalId = state.ids.guid();
  state.addPrincipal({
    objectId: systemPrincipalId,
    appId: state.ids.guid(),
    displayName: name,
    kind: "ManagedIdentity",
    resourceId: id,
  });
  if (!state.resourceGroup(sub, nodeResourceGroup)) {
    state.resourceGroups.set(state.rgKey(sub, nodeResourceGroup), {
      id: resourceGroupId(sub, nodeResourceGroup),
      subscriptionId: sub,
      name: nodeResourceGroup,
      location,
      tags: { "aks-managed-cluster-name": name, "aks-managed-cluster-rg": group.name },
      managedBy: id,
      state: "Succeeded",
    });
    state.count(RESOURCE_TYPES.resourceGroup, "created");
  }
  const kubelet = state.createIdentity({
    subscriptionId: sub,
    resourceGroup: nodeResourceGroup,
    name: `${name}-agentpool`,
    location,
    tags: {},
  });
  const cluster: ManagedCluster = {
    id,
    subscriptionId: sub,
    resourceGroup: group.name,
    name,
    location,
    tags,
    sku,
    identityRequest,
    requested,
    state: "Creating",
    ready: false,
    clusterGuid: guid,
    systemPrincipalId,
    kubeletIdentityId: kubelet.id,
    nodeResourceGroup,
    fqdn: `${dnsPrefix}-${state.ids.hex(4)}.hcp.${location}.azmk8s.io`,
    dnsPrefix,
    kubernetesVersion: version,
    oidcEnabled: oidcWanted,
    issuerKey,
    kubeconfigToken: state.ids.hex(32),
  };
  state.clusters.set(id.toLowerCase(), cluster);
  state.count(RESOURCE_TYPES.managedCluster, "created");
  ensureAddonIdentity(ctx, cluster);
  const op = state.startOperation("managedClusterCreate", state.latency.managedClusterCreate, () => {
    cluster.state = "Succeeded";
    cluster.operation = undefined;
    cluster.ready = true;
    state.emitCluster({ type: "created", cluster: state.clusterInfo(cluster, ctx.armEndpoint()) });
  });
  cluster.operation = op;
  return {
    status: 201,
    body: clusterJson(ctx, cluster),
    headers: { "azure-asyncoperation": asyncOperationUrl(ctx, cluster, op, req.apiVersion) },
  };
}

function deleteCluster(
  ctx: ArmContext,
  req: ArmRequest,
  sub: string,
  rg: string,
  name: string,
): EmulatorResponse {
  const { state } = ctx;
  state.requireResourceGroup(sub, rg, false);
  const id = clusterId(sub, rg, name);
  authorize(ctx, req, AKS_DELETE, id);
  const c = state.clusterById(id);
  if (!c) return { status: 204 };
  let op = c.operation;
  if (c.state !== "Deleting" || !op) {
    if (op?.status === "InProgress") throw busy(c);
    c.state = "Deleting";
    op = state.startOperation("managedClusterDelete", state.latency.managedClusterDelete, () => {
      state.finishClusterDelete(c, ctx.armEndpoint());
    });
    c.operation = op;
  }
  const asyncUrl = asyncOperationUrl(ctx, c, op, req.apiVersion);
  return {
    status: 202,
    headers: {
      "azure-asyncoperation": asyncUrl,
      location: asyncUrl.replace("/operations/", "/operationresults/"),
      "retry-after": pollRetryAfter(ctx, op.dueAt),
    },
  };
}
