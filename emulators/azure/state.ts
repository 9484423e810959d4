import type { EmulatorClock } from "../shared/clock.ts";
import type { ClusterEvent, ClusterInfo, KeyVaultAddonConfig, KubernetesEndpoint } from "../shared/world.ts";
import { AzureHttpError } from "./http.ts";
import type { SigningKey } from "./jwt.ts";
import type { AzureLatencyProfile } from "./latency.ts";
import type { IdSource } from "./random.ts";
import { findRole, roleAllows, scopeCovers } from "./rbac.ts";

/** Resource types as ARM spells them; also the keys of the inventory counts. */
export const RESOURCE_TYPES = {
  resourceGroup: "Microsoft.Resources/resourceGroups",
  managedCluster: "Microsoft.ContainerService/managedClusters",
  vault: "Microsoft.KeyVault/vaults",
  deletedVault: "Microsoft.KeyVault/deletedVaults",
  secret: "Microsoft.KeyVault/vaults/secrets",
  secretVersion: "Microsoft.KeyVault/vaults/secrets/versions",
  identity: "Microsoft.ManagedIdentity/userAssignedIdentities",
  federatedCredential: "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
  roleAssignment: "Microsoft.Authorization/roleAssignments",
} as const;

export type PrincipalKind = "ServicePrincipal" | "User" | "ManagedIdentity";

/** Someone Entra can issue a token for. */
export interface Principal {
  objectId: string;
  /** Application (client) id; what `client_id` names at the token endpoint. */
  appId: string;
  displayName: string;
  kind: PrincipalKind;
  /** Client secret, for the service principals that have one. */
  secret?: string;
  /** ARM id of the managed identity behind this principal. */
  resourceId?: string;
}

export interface ResourceGroup {
  id: string;
  subscriptionId: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  /** Set on a cluster's node resource group: the cluster that owns it. */
  managedBy?: string;
  state: "Succeeded" | "Deleting";
}

export interface FederatedCredential {
  id: string;
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

export interface UserAssignedIdentity {
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  clientId: string;
  principalId: string;
  federatedCredentials: Map<string, FederatedCredential>;
  /** Entra refuses concurrent credential writes on one identity; the emulator remembers one in flight. */
  credentialWriteInFlight: boolean;
}

export interface SecretVersion {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  notBefore?: number;
  expires?: number;
  /** Epoch ms. */
  created: number;
  updated: number;
}

export interface Secret {
  name: string;
  /** Oldest first; the last one is the current version. */
  versions: SecretVersion[];
  deleted?: { deletedDate: number; scheduledPurgeDate: number } | undefined;
}

export interface AccessPolicy {
  tenantId: string;
  objectId: string;
  applicationId?: string;
  permissions: { keys?: string[]; secrets?: string[]; certificates?: string[]; storage?: string[] };
}

export interface Vault {
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  tenantId: string;
  sku: { family: string; name: string };
  enableRbacAuthorization: boolean;
  softDeleteRetentionInDays: number;
  enablePurgeProtection: boolean;
  accessPolicies: AccessPolicy[];
  /** Other properties as the client sent them, echoed back. */
  extraProperties: Record<string, unknown>;
  provisioningState: "RegisteringDns" | "Succeeded";
  /** https://127.0.0.1:PORT/ */
  vaultUri: string;
  secrets: Map<string, Secret>;
}

export interface DeletedVault {
  vault: Vault;
  deletionDate: number;
  scheduledPurgeDate: number;
  purging: boolean;
}

export type ClusterState = "Creating" | "Updating" | "Deleting" | "Succeeded" | "Failed";

export interface ManagedCluster {
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  sku: { name: string; tier: string };
  /** The identity block as requested (system-assigned when absent). */
  identityRequest: Record<string, unknown>;
  /** `properties` as last requested, with secrets removed; echoed back. */
  requested: Record<string, unknown>;
  state: ClusterState;
  /** True once a create succeeded: from then on the Kubernetes side may serve it. */
  ready: boolean;
  clusterGuid: string;
  systemPrincipalId: string;
  kubeletIdentityId: string;
  addonIdentityId?: string;
  nodeResourceGroup: string;
  fqdn: string;
  dnsPrefix: string;
  kubernetesVersion: string;
  oidcEnabled: boolean;
  issuerKey: SigningKey;
  operation?: Operation | undefined;
  kubeconfigToken: string;
}

export interface RoleAssignment {
  id: string;
  name: string;
  scope: string;
  roleDefinitionId: string;
  roleGuid: string;
  principalId: string;
  principalType: string;
  description?: string;
  condition?: string;
  conditionVersion?: string;
  createdOn: number;
  createdBy: string;
  /** Clock reading from which authorization honours it. */
  effectiveAt: number;
  /** Present in the world from the start (the bot's own access), not created through the API. */
  seeded: boolean;
}

export interface Operation {
  id: string;
  kind: string;
  status: "InProgress" | "Succeeded" | "Failed" | "Canceled";
  startTime: number;
  endTime?: number;
  /** Clock reading at which it completes. */
  dueAt: number;
  error?: { code: string; message: string };
  cancel(): void;
}

export interface InventoryResource {
  type: string;
  id: string;
  name: string;
  state?: string;
  /** Secrets of a vault: names and version ids, never values. */
  secrets?: { name: string; versions: string[]; deleted: boolean }[];
}

export interface AzureInventory {
  resources: InventoryResource[];
  /** Soft-deleted vaults: they still hold their global name. */
  deletedVaults: {
    name: string;
    id: string;
    location: string;
    scheduledPurgeDate: string;
    purging: boolean;
  }[];
  counts: Record<string, { created: number; deleted: number }>;
}

export const DEFAULT_KUBERNETES_VERSION = "1.33.3";

const lower = (s: string) => s.toLowerCase();

export function resourceGroupId(subscriptionId: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${name}`;
}

export interface StateOptions {
  clock: EmulatorClock;
  ids: IdSource;
  latency: AzureLatencyProfile;
  tenantId: string;
  subscriptionIds: string[];
}

/**
 * Everything the emulated Azure knows. Handlers change it; nothing here
 * speaks HTTP. Keys are lower-cased because ARM ids and names compare
 * case-insensitively.
 */
export class AzureState {
  readonly clock: EmulatorClock;
  readonly ids: IdSource;
  readonly latency: AzureLatencyProfile;
  readonly tenantId: string;
  readonly subscriptionIds: string[];

  readonly principals = new Map<string, Principal>();
  readonly resourceGroups = new Map<string, ResourceGroup>();
  readonly clusters = new Map<string, ManagedCluster>();
  readonly vaults = new Map<string, Vault>();
  readonly deletedVaults = new Map<string, DeletedVault>();
  readonly identities = new Map<string, UserAssignedIdentity>();
  readonly roleAssignments = new Map<string, RoleAssignment>();
  readonly operations = new Map<string, Operation>();
  readonly #counts = new Map<string, { created: number; deleted: number }>();
  readonly #clusterListeners = new Set<(event: ClusterEvent) => void>();
  kubernetesEndpointProvider: ((cluster: ClusterInfo) => KubernetesEndpoint | undefined) | undefined;
  /** Called when a vault's data plane should start or stop answering (DNS in Azure). */
  onVaultReachability: (vaultName: string, reachable: boolean) => void = () => {};

  constructor(options: StateOptions) {
    this.clock = options.clock;
    this.ids = options.ids;
    this.latency = options.latency;
    this.tenantId = options.tenantId;
    this.subscriptionIds = options.subscriptionIds;
  }

  // --- bookkeeping -------------------------------------------------------

  count(type: string, kind: "created" | "deleted", n = 1): void {
    const entry = this.#counts.get(type) ?? { created: 0, deleted: 0 };
    entry[kind] += n;
    this.#counts.set(type, entry);
  }

  /** Clock reading `emulatedMs` from now (clock readings are real ms under a scaled clock). */
  dueIn(emulatedMs: number): number {
    return this.clock.now() + emulatedMs / this.clock.scale;
  }

  hasSubscription(id: string): boolean {
    return this.subscriptionIds.some((s) => lower(s) === lower(id));
  }

  // --- resource groups ----------------------------------------------------

  rgKey(subscriptionId: string, name: string): string {
    return `${lower(subscriptionId)}/${lower(name)}`;
  }

  resourceGroup(subscriptionId: string, name: string): ResourceGroup | undefined {
    return this.resourceGroups.get(this.rgKey(subscriptionId, name));
  }

  /** The resource group a request works in: 404 when missing, 409 when it is being deleted and `forWrite`. */
  requireResourceGroup(subscriptionId: string, name: string, forWrite: boolean): ResourceGroup {
    const rg = this.resourceGroup(subscriptionId, name);
    if (!rg) {
      throw new AzureHttpError(404, "ResourceGroupNotFound", `Resource group '${name}' could not be found.`);
    }
    if (forWrite && rg.state === "Deleting") {
      throw new AzureHttpError(
        409,
        "ResourceGroupBeingDeleted",
        `The resource group '${rg.name}' is in deprovisioning state and cannot perform this operation.`,
      );
    }
    return rg;
  }

  // --- operations ----------------------------------------------------------

  /**
   * Starts a long-running operation that completes after `emulatedMs`; `complete`
   * applies its effect then. A zero duration completes on the next turn.
   */
  startOperation(kind: string, emulatedMs: number, complete: (op: Operation) => void): Operation {
    const id = this.ids.guid();
    let cancelTimer: () => void = () => {};
    const op: Operation = {
      id,
      kind,
      status: "InProgress",
      startTime: this.clock.now(),
      dueAt: this.dueIn(emulatedMs),
      cancel: () => {
        cancelTimer();
        if (op.status === "InProgress") {
          op.status = "Canceled";
          op.endTime = this.clock.now();
        }
      },
    };
    const finish = () => {
      if (op.status !== "InProgress") return;
      try {
        complete(op);
        op.status = "Succeeded";
      } catch (error) {
        op.status = "Failed";
        op.error =
          error instanceof AzureHttpError
            ? { code: error.code, message: error.message }
            : { code: "InternalServerError", message: "The operation failed inside the emulator." };
      }
      op.endTime = this.clock.now();
    };
    if (emulatedMs <= 0) {
      const timer = setImmediate(finish);
      cancelTimer = () => clearImmediate(timer);
    } else {
      cancelTimer = this.clock.schedule(emulatedMs, finish);
    }
    this.operations.set(id, op);
    return op;
  }

  // --- principals ------------------------------------------------------------

  addPrincipal(principal: Principal): Principal {
    this.principals.set(lower(principal.objectId), principal);
    return principal;
  }

  principalByAppId(appId: string): Principal | undefined {
    for (const p of this.principals.values()) if (lower(p.appId) === lower(appId)) return p;
    return undefined;
  }

  principal(objectId: string): Principal | undefined {
    return this.principals.get(lower(objectId));
  }

  identityByClientId(clientId: string): UserAssignedIdentity | undefined {
    for (const i of this.identities.values()) if (lower(i.clientId) === lower(clientId)) return i;
    return undefined;
  }

  /** Creates a user-assigned identity and its principal. */
  createIdentity(init: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
    tags: Record<string, string>;
  }): UserAssignedIdentity {
    // ARM hands identity ids out with a lower-case "resourcegroups" segment.
    const id = `/subscriptions/${init.subscriptionId}/resourcegroups/${init.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${init.name}`;
    const identity: UserAssignedIdentity = {
      ...init,
      id,
      clientId: this.ids.guid(),
      principalId: this.ids.guid(),
      federatedCredentials: new Map(),
      credentialWriteInFlight: false,
    };
    this.identities.set(lower(id), identity);
    this.addPrincipal({
      objectId: identity.principalId,
      appId: identity.clientId,
      displayName: init.name,
      kind: "ManagedIdentity",
      resourceId: id,
    });
    this.count(RESOURCE_TYPES.identity, "created");
    return identity;
  }

  deleteIdentity(identity: UserAssignedIdentity): void {
    this.identities.delete(lower(identity.id));
    this.principals.delete(lower(identity.principalId));
    this.count(RESOURCE_TYPES.federatedCredential, "deleted", identity.federatedCredentials.size);
    this.count(RESOURCE_TYPES.identity, "deleted");
  }

  // --- vaults ------------------------------------------------------------------

  liveVaultByName(name: string): Vault | undefined {
    for (const v of this.vaults.values()) if (lower(v.name) === lower(name)) return v;
    return undefined;
  }

  softDeleteVault(vault: Vault): void {
    this.vaults.delete(lower(vault.id));
    const now = this.clock.now();
    this.deletedVaults.set(lower(vault.name), {
      vault,
      deletionDate: now,
      // Informational only (nothing purges on its own here), so it reads like Azure's: retention days ahead.
      scheduledPurgeDate: now + vault.softDeleteRetentionInDays * 86_400_000,
      purging: false,
    });
    this.count(RESOURCE_TYPES.vault, "deleted");
    this.count(RESOURCE_TYPES.deletedVault, "created");
    this.onVaultReachability(vault.name, false);
  }

  purgeDeletedVault(name: string): void {
    const deleted = this.deletedVaults.get(lower(name));
    if (!deleted) return;
    this.deletedVaults.delete(lower(name));
    this.count(RESOURCE_TYPES.deletedVault, "deleted");
    let versions = 0;
    for (const s of deleted.vault.secrets.values()) versions += s.versions.length;
    this.count(RESOURCE_TYPES.secret, "deleted", deleted.vault.secrets.size);
    this.count(RESOURCE_TYPES.secretVersion, "deleted", versions);
  }

  // --- role assignments -------------------------------------------------------

  /** Role assignments authorization honours now for `principalId` on `resourceId`. */
  effectiveAssignments(principalId: string, resourceId: string): RoleAssignment[] {
    const now = this.clock.now();
    const out: RoleAssignment[] = [];
    for (const ra of this.roleAssignments.values()) {
      if (lower(ra.principalId) !== lower(principalId)) continue;
      if (ra.effectiveAt > now) continue;
      if (!scopeCovers(ra.scope, resourceId)) continue;
      out.push(ra);
    }
    return out;
  }

  isAllowed(principalId: string, resourceId: string, action: string, data: boolean): boolean {
    return this.effectiveAssignments(principalId, resourceId).some((ra) => {
      const role = findRole(ra.roleGuid);
      return role !== undefined && roleAllows(role, action, data);
    });
  }

  deleteRoleAssignment(ra: RoleAssignment): void {
    if (this.roleAssignments.delete(lower(ra.id)) && !ra.seeded) {
      this.count(RESOURCE_TYPES.roleAssignment, "deleted");
    }
  }

  // --- clusters -------------------------------------------------------------

  onClusterEvent(listener: (event: ClusterEvent) => void): () => void {
    this.#clusterListeners.add(listener);
    return () => {
      this.#clusterListeners.delete(listener);
    };
  }

  emitCluster(event: ClusterEvent): void {
    for (const listener of [...this.#clusterListeners]) {
      try {
        listener(event);
      } catch {
        // A listener's bug belongs to the listener; the emulated Azure carries on.
      }
    }
  }

  clusterById(id: string): ManagedCluster | undefined {
    return this.clusters.get(lower(id));
  }

  clusterByGuid(guid: string): ManagedCluster | undefined {
    for (const c of this.clusters.values()) if (lower(c.clusterGuid) === lower(guid)) return c;
    return undefined;
  }

  issuerUrl(cluster: ManagedCluster, armEndpoint: string): string {
    return `${armEndpoint}/oidc/${this.tenantId}/${cluster.clusterGuid}/`;
  }

  clusterInfo(cluster: ManagedCluster, armEndpoint: string): ClusterInfo {
    const props = cluster.requested;
    const pools = Array.isArray(props.agentPoolProfiles) ? props.agentPoolProfiles : [];
    let nodeCount = 0;
    for (const pool of pools) {
      const count = (pool as Record<string, unknown>).count;
      if (typeof count === "number") nodeCount += count;
    }
    const security = props.securityProfile as Record<string, unknown> | undefined;
    const wi = security?.workloadIdentity as Record<string, unknown> | undefined;
    const info: ClusterInfo = {
      id: cluster.id,
      subscriptionId: cluster.subscriptionId,
      resourceGroup: cluster.resourceGroup,
      name: cluster.name,
      location: cluster.location,
      clusterGuid: cluster.clusterGuid,
      oidcIssuerEnabled: cluster.oidcEnabled,
      oidcIssuerUrl: cluster.oidcEnabled ? this.issuerUrl(cluster, armEndpoint) : "",
      workloadIdentityEnabled: wi?.enabled === true,
      nodeCount,
      nodeResourceGroup: cluster.nodeResourceGroup,
      kubernetesVersion: cluster.kubernetesVersion,
    };
    const addon = keyVaultAddon(props);
    if (addon) {
      const identity = cluster.addonIdentityId
        ? this.identities.get(lower(cluster.addonIdentityId))
        : undefined;
      info.keyVaultAddon = identity ? { ...addon, identityClientId: identity.clientId } : addon;
    }
    return info;
  }

  // --- cascades -----------------------------------------------------------------

  /** Removes a cluster and its node resource group now (the end of a delete operation). */
  finishClusterDelete(cluster: ManagedCluster, armEndpoint: string): void {
    // A create or update still running dies with the cluster; a delete running is the caller.
    if (cluster.operation && cluster.operation.kind !== "managedClusterDelete") cluster.operation.cancel();
    if (!this.clusters.delete(lower(cluster.id))) return;
    this.principals.delete(lower(cluster.systemPrincipalId));
    this.count(RESOURCE_TYPES.managedCluster, "deleted");
    const nodeRg = this.resourceGroup(cluster.subscriptionId, cluster.nodeResourceGroup);
    if (nodeRg) this.deleteResourceGroupNow(nodeRg, armEndpoint);
    this.removeAssignmentsUnder(cluster.id);
    if (cluster.ready) this.emitCluster({ type: "deleted", cluster: this.clusterInfo(cluster, armEndpoint) });
  }

  removeAssignmentsUnder(scope: string): void {
    for (const ra of [...this.roleAssignments.values()]) {
      if (scopeCovers(scope, ra.scope)) this.deleteRoleAssignment(ra);
    }
  }

  /**
   * Deletes a resource group and everything in it now, as Azure does when a
   * resource group delete completes: clusters (and their node resource
   * groups) go, vaults become soft-deleted, identities and their
   * credentials go, role assignments scoped inside go.
   */
  deleteResourceGroupNow(rg: ResourceGroup, armEndpoint: string): void {
    const prefix = `${lower(rg.id)}/`;
    const inside = (id: string) => lower(id).startsWith(prefix);
    const underRg = (sub: string, group: string) =>
      this.rgKey(sub, group) === this.rgKey(rg.subscriptionId, rg.name);
    for (const cluster of [...this.clusters.values()]) {
      if (underRg(cluster.subscriptionId, cluster.resourceGroup))
        this.finishClusterDelete(cluster, armEndpoint);
    }
    for (const vault of [...this.vaults.values()]) {
      if (underRg(vault.subscriptionId, vault.resourceGroup)) this.softDeleteVault(vault);
    }
    for (const identity of [...this.identities.values()]) {
      if (underRg(identity.subscriptionId, identity.resourceGroup)) this.deleteIdentity(identity);
    }
    for (const ra of [...this.roleAssignments.values()]) {
      if (inside(ra.scope) || lower(ra.scope) === lower(rg.id)) this.deleteRoleAssignment(ra);
    }
    if (this.resourceGroups.delete(this.rgKey(rg.subscriptionId, rg.name))) {
      this.count(RESOURCE_TYPES.resourceGroup, "deleted");
    }
  }

  // --- inventory -------------------------------------------------------------

  inventory(): AzureInventory {
    const resources: InventoryResource[] = [];
    for (const rg of this.resourceGroups.values()) {
      resources.push({ type: RESOURCE_TYPES.resourceGroup, id: rg.id, name: rg.name, state: rg.state });
    }
    for (const c of this.clusters.values()) {
      resources.push({ type: RESOURCE_TYPES.managedCluster, id: c.id, name: c.name, state: c.state });
    }
    for (const v of this.vaults.values()) {
      resources.push({
        type: RESOURCE_TYPES.vault,
        id: v.id,
        name: v.name,
        state: v.provisioningState,
        secrets: secretSummaries(v),
      });
    }
    for (const i of this.identities.values()) {
      resources.push({ type: RESOURCE_TYPES.identity, id: i.id, name: i.name });
      for (const f of i.federatedCredentials.values()) {
        resources.push({ type: RESOURCE_TYPES.federatedCredential, id: f.id, name: f.name });
      }
    }
    for (const ra of this.roleAssignments.values()) {
      resources.push({ type: RESOURCE_TYPES.roleAssignment, id: ra.id, name: ra.name });
    }
    const deletedVaults = [...this.deletedVaults.values()].map((d) => ({
      name: d.vault.name,
      id: d.vault.id,
      location: d.vault.location,
      scheduledPurgeDate: new Date(d.scheduledPurgeDate).toISOString(),
      purging: d.purging,
    }));
    const counts: Record<string, { created: number; deleted: number }> = {};
    for (const type of Object.values(RESOURCE_TYPES)) counts[type] = { created: 0, deleted: 0 };
    for (const [type, c] of this.#counts) counts[type] = { ...c };
    return { resources, deletedVaults, counts };
  }
}

function secretSummaries(vault: Vault): { name: string; versions: string[]; deleted: boolean }[] {
  return [...vault.secrets.values()].map((s) => ({
    name: s.name,
    versions: s.versions.map((v) => v.version),
    deleted: s.deleted !== undefined,
  }));
}

/** The azureKeyvaultSecretsProvider addon as configured in ARM (config values are strings there). */
export function keyVaultAddon(props: Record<string, unknown>): KeyVaultAddonConfig | undefined {
  const addons = props.addonProfiles as Record<string, unknown> | undefined;
  if (!addons) return undefined;
  const key = Object.keys(addons).find((k) => lower(k) === "azurekeyvaultsecretsprovider");
  if (!key) return undefined;
  const addon = addons[key] as Record<string, unknown> | undefined;
  if (!addon) return undefined;
  const config = (addon.config ?? {}) as Record<string, unknown>;
  return {
    enabled: addon.enabled === true,
    enableSecretRotation: String(config.enableSecretRotation ?? "false").toLowerCase() === "true",
    rotationPollInterval:
      typeof config.rotationPollInterval === "string" ? config.rotationPollInterval : "2m",
  };
}
