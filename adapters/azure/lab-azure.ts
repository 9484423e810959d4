import type { ManagedCluster } from "@azure/arm-containerservice";
import type { Vault } from "@azure/arm-keyvault";
import type { Identity } from "@azure/arm-msi";
import type { TokenCredential } from "@azure/identity";
import type { Clock } from "../../src/clock.ts";
import { ExternalError } from "../../src/errors.ts";
import { roleAssignmentName } from "../../src/labs/naming.ts";
import type {
  AzureLabPort,
  ClusterInfo,
  ClusterSpec,
  FederatedCredentialSpec,
  IdentityInfo,
  ResourceRef,
  RoleAssignmentSpec,
  Tags,
  VaultInfo,
} from "../../src/ports/azure.ts";
import { inSpan, NO_TRACING, type Tracing } from "../../src/ports/tracing.ts";
import { type AzureClients, callerObjectId } from "./clients.ts";
import { ENTRA_RBAC_PROFILE, kubeconfigText, needsEntraSignIn } from "./cluster-access.ts";
import { isNotFound, toAzureError } from "./errors.ts";

export interface ArmLabAzureOptions {
  clients: AzureClients;
  credential: TokenCredential;
  subscriptionId: string;
  tenantId: string;
  armEndpoint: string;
  /** Waits between polls (its time scale divides the SDK pollers' interval) and reads Retry-After dates. */
  clock: Clock;
  /** A span per port call, over the SDK's own HTTP spans and a long-running operation's polls. */
  tracing?: Tracing;
}

const BUSY_STATES = new Set([
  "Creating",
  "Updating",
  "Deleting",
  "Upgrading",
  "Scaling",
  "Starting",
  "Stopping",
]);

function clusterInfo(mc: ManagedCluster): ClusterInfo {
  const addon = mc.addonProfiles?.azureKeyvaultSecretsProvider;
  return {
    id: mc.id ?? "",
    name: mc.name ?? "",
    provisioningState: mc.provisioningState ?? "Unknown",
    oidcIssuerUrl: mc.oidcIssuerProfile?.issuerURL ?? "",
    workloadIdentity: mc.securityProfile?.workloadIdentity?.enabled === true,
    nodeResourceGroup: mc.nodeResourceGroup ?? "",
    keyVaultAddon: addon
      ? {
          enabled: addon.enabled === true,
          rotation: addon.config?.enableSecretRotation === "true",
          rotationPollInterval: addon.config?.rotationPollInterval ?? "2m",
        }
      : undefined,
    nodeCount: (mc.agentPoolProfiles ?? []).reduce((n, p) => n + (p.count ?? 0), 0),
    entraRbac: mc.aadProfile?.managed === true && mc.aadProfile.enableAzureRbac === true,
  };
}

function vaultInfo(v: Vault): VaultInfo {
  return {
    id: v.id ?? "",
    name: v.name ?? "",
    vaultUri: v.properties.vaultUri ?? "",
    rbac: v.properties.enableRbacAuthorization === true,
  };
}

function identityInfo(i: Identity): IdentityInfo {
  return {
    id: i.id ?? "",
    name: i.name ?? "",
    clientId: i.clientId ?? "",
    principalId: i.principalId ?? "",
    tenantId: i.tenantId ?? "",
  };
}

/** Does the existing cluster already match what the lab needs (so no PUT is sent)? */
function clusterMatches(info: ClusterInfo, spec: ClusterSpec): boolean {
  return (
    info.provisioningState === "Succeeded" &&
    info.oidcIssuerUrl !== "" &&
    info.workloadIdentity &&
    info.keyVaultAddon?.enabled === true &&
    info.keyVaultAddon.rotation &&
    info.keyVaultAddon.rotationPollInterval === spec.rotationPollInterval &&
    (spec.entraRbac !== true || info.entraRbac === true)
  );
}

/** The Azure side of a lab on the Azure SDKs (ARM), one client per resource provider. */
export class ArmLabAzure implements AzureLabPort {
  readonly subscriptionId: string;
  readonly tenantId: string;
  readonly #c: AzureClients;
  readonly #credential: TokenCredential;
  readonly #armEndpoint: string;
  readonly #pollMs: number;
  readonly #clock: Clock;
  readonly #tracing: Tracing;
  #principal: Promise<string> | undefined;
  /** Clusters seen with Entra integration (it cannot be turned off): their admin credential is asked at once. */
  readonly #entra = new Set<string>();

  constructor(options: ArmLabAzureOptions) {
    this.#c = options.clients;
    this.#credential = options.credential;
    this.subscriptionId = options.subscriptionId;
    this.tenantId = options.tenantId;
    this.#armEndpoint = options.armEndpoint.replace(/\/+$/, "");
    this.#clock = options.clock;
    this.#tracing = options.tracing ?? NO_TRACING;
    this.#pollMs = Math.max(20, Math.round(options.clock.scaled(2_000)));
  }

  /** One port call in its span, `labops.azure <what>`; the SDK's HTTP spans (adapters/azure/tracing.ts) below it. */
  #span<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const attributes = { "labops.azure.operation": what };
    return inSpan(this.#tracing, `labops.azure ${what}`, { attributes }, fn);
  }

  #try<T>(what: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    return this.#span(what, async () => {
      try {
        return await fn();
      } catch (error) {
        throw toAzureError(error, what, this.#clock.now(), signal);
      }
    });
  }

  /** A read that answers undefined for 404 instead of failing. */
  #find<T>(what: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T | undefined> {
    return this.#span(what, async () => {
      try {
        return await fn();
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw toAzureError(error, what, this.#clock.now(), signal);
      }
    });
  }

  callerPrincipalId(signal: AbortSignal): Promise<string> {
    this.#principal ??= this.#try("read labops' own identity", signal, () =>
      callerObjectId(this.#credential, `${this.#armEndpoint}/.default`),
    ).catch((error: unknown) => {
      this.#principal = undefined;
      throw error;
    });
    return this.#principal;
  }

  ensureResourceGroup(name: string, location: string, tags: Tags, signal: AbortSignal): Promise<ResourceRef> {
    return this.#try(`create resource group ${name}`, signal, async () => {
      const rg = await this.#c.resources.resourceGroups.createOrUpdate(
        name,
        { location, tags },
        { abortSignal: signal },
      );
      return { id: rg.id ?? "", name: rg.name ?? name };
    });
  }

  async getResourceGroup(
    name: string,
    signal: AbortSignal,
  ): Promise<(ResourceRef & { tags: Tags }) | undefined> {
    const rg = await this.#find(`read resource group ${name}`, signal, () =>
      this.#c.resources.resourceGroups.get(name, { abortSignal: signal }),
    );
    return rg ? { id: rg.id ?? "", name: rg.name ?? name, tags: rg.tags ?? {} } : undefined;
  }

  deleteResourceGroup(name: string, signal: AbortSignal): Promise<void> {
    return this.#try(`delete resource group ${name}`, signal, async () => {
      const exists = await this.#c.resources.resourceGroups.checkExistence(name, { abortSignal: signal });
      if (!exists.body) return;
      try {
        await this.#c.resources.resourceGroups.delete(name, {
          abortSignal: signal,
          updateIntervalInMs: this.#pollMs,
        });
      } catch (error) {
        // Gone between the check and the delete (another job, or a retry after a lost response).
        if (!isNotFound(error)) throw error;
      }
    });
  }

  async getCluster(
    resourceGroup: string,
    name: string,
    signal: AbortSignal,
  ): Promise<ClusterInfo | undefined> {
    const mc = await this.#find(`read cluster ${name}`, signal, () =>
      this.#c.containerService.managedClusters.get(resourceGroup, name, { abortSignal: signal }),
    );
    return mc ? clusterInfo(mc) : undefined;
  }

  async ensureCluster(spec: ClusterSpec, signal: AbortSignal): Promise<ClusterInfo> {
    const what = `create cluster ${spec.name}`;
    let existing = await this.getCluster(spec.resourceGroup, spec.name, signal);
    // An operation already running (a resumed job): wait for it rather than draw a 409.
    while (existing && BUSY_STATES.has(existing.provisioningState)) {
      await this.#clock.sleep(this.#pollMs, signal).catch(() => undefined);
      if (signal.aborted) throw toAzureError(new Error("aborted"), what, this.#clock.now(), signal);
      existing = await this.getCluster(spec.resourceGroup, spec.name, signal);
    }
    if (existing && clusterMatches(existing, spec)) return existing;
    const body: ManagedCluster = {
      location: spec.location,
      tags: spec.tags,
      sku: { name: "Base", tier: "Free" },
      identity: { type: "SystemAssigned" },
      dnsPrefix: spec.name,
      agentPoolProfiles: [
        {
          name: "nodepool1",
          count: spec.nodeCount,
          vmSize: spec.vmSize,
          mode: "System",
          osType: "Linux",
          type: "VirtualMachineScaleSets",
        },
      ],
      oidcIssuerProfile: { enabled: true },
      securityProfile: { workloadIdentity: { enabled: true } },
      ...(spec.entraRbac ? { aadProfile: ENTRA_RBAC_PROFILE } : {}),
      // The reference enables the addon in a second update; asking for it in the create saves minutes.
      addonProfiles: {
        azureKeyvaultSecretsProvider: {
          enabled: true,
          config: { enableSecretRotation: "true", rotationPollInterval: spec.rotationPollInterval },
        },
      },
    };
    const mc = await this.#try(what, signal, () =>
      this.#c.containerService.managedClusters.createOrUpdate(spec.resourceGroup, spec.name, body, {
        abortSignal: signal,
        updateIntervalInMs: this.#pollMs,
      }),
    );
    const info = clusterInfo(mc);
    if (info.provisioningState !== "Succeeded") {
      throw new ExternalError(
        "azure",
        "ClusterNotSucceeded",
        `Cluster ${spec.name} ended ${info.provisioningState}.`,
        {
          retryable: true,
        },
      );
    }
    return info;
  }

  clusterUserKubeconfig(resourceGroup: string, name: string, signal: AbortSignal): Promise<string> {
    return this.#try(`read credentials of cluster ${name}`, signal, async () => {
      const mc = this.#c.containerService.managedClusters;
      const key = `${resourceGroup}/${name}`.toLowerCase();
      if (!this.#entra.has(key)) {
        const user = kubeconfigText(
          await mc.listClusterUserCredentials(resourceGroup, name, { abortSignal: signal }),
          name,
        );
        if (!needsEntraSignIn(user)) return user;
        this.#entra.add(key);
      }
      // An Entra-integrated host (cluster-access.ts): its user kubeconfig needs kubelogin.
      return kubeconfigText(
        await mc.listClusterAdminCredentials(resourceGroup, name, { abortSignal: signal }),
        name,
      );
    });
  }

  async getVault(resourceGroup: string, name: string, signal: AbortSignal): Promise<VaultInfo | undefined> {
    const v = await this.#find(`read vault ${name}`, signal, () =>
      this.#c.keyVault.vaults.get(resourceGroup, name, { abortSignal: signal }),
    );
    return v ? vaultInfo(v) : undefined;
  }

  async ensureVault(
    spec: { resourceGroup: string; name: string; location: string; tags: Tags },
    signal: AbortSignal,
  ): Promise<VaultInfo> {
    const existing = await this.getVault(spec.resourceGroup, spec.name, signal);
    if (existing?.vaultUri) return existing;
    try {
      const v = await this.#span(`create vault ${spec.name}`, () =>
        this.#c.keyVault.vaults.createOrUpdate(
          spec.resourceGroup,
          spec.name,
          {
            location: spec.location,
            tags: spec.tags,
            properties: {
              tenantId: this.tenantId,
              sku: { family: "A", name: "standard" },
              enableRbacAuthorization: true,
              enableSoftDelete: true,
              softDeleteRetentionInDays: 7,
            },
          },
          { abortSignal: signal, updateIntervalInMs: this.#pollMs },
        ),
      );
      return vaultInfo(v);
    } catch (error) {
      const mapped = toAzureError(error, `create vault ${spec.name}`, this.#clock.now(), signal);
      // A soft-deleted vault of that name in this subscription blocks the name just as one elsewhere does.
      if (
        mapped instanceof ExternalError &&
        mapped.status === 409 &&
        /soft.?deleted|already (in use|exists)/i.test(mapped.message)
      ) {
        throw new ExternalError("azure", "VaultAlreadyExists", mapped.message, { status: 409 });
      }
      throw mapped;
    }
  }

  async purgeDeletedVault(name: string, location: string, signal: AbortSignal): Promise<boolean> {
    const deleted = await this.#find(`read deleted vault ${name}`, signal, () =>
      this.#c.keyVault.vaults.getDeleted(name, location, { abortSignal: signal }),
    );
    if (!deleted) return false;
    await this.#try(`purge vault ${name}`, signal, () =>
      this.#c.keyVault.vaults.purgeDeleted(name, location, {
        abortSignal: signal,
        updateIntervalInMs: this.#pollMs,
      }),
    );
    return true;
  }

  async getIdentity(
    resourceGroup: string,
    name: string,
    signal: AbortSignal,
  ): Promise<IdentityInfo | undefined> {
    const i = await this.#find(`read identity ${name}`, signal, () =>
      this.#c.msi.userAssignedIdentities.get(resourceGroup, name, { abortSignal: signal }),
    );
    return i ? identityInfo(i) : undefined;
  }

  async ensureIdentity(
    spec: { resourceGroup: string; name: string; location: string; tags: Tags },
    signal: AbortSignal,
  ): Promise<IdentityInfo> {
    const existing = await this.getIdentity(spec.resourceGroup, spec.name, signal);
    if (existing) return existing;
    const i = await this.#try(`create identity ${spec.name}`, signal, () =>
      this.#c.msi.userAssignedIdentities.createOrUpdate(
        spec.resourceGroup,
        spec.name,
        { location: spec.location, tags: spec.tags },
        { abortSignal: signal },
      ),
    );
    return identityInfo(i);
  }

  async ensureRoleAssignment(spec: RoleAssignmentSpec, signal: AbortSignal): Promise<ResourceRef> {
    const name = roleAssignmentName(spec.scope, spec.roleDefinitionId, spec.principalId);
    const roleDefinitionId = `/subscriptions/${this.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${spec.roleDefinitionId}`;
    try {
      const ra = await this.#span(`assign role on ${spec.scope.split("/").at(-1)}`, () =>
        this.#c.authorization.roleAssignments.create(
          spec.scope,
          name,
          { roleDefinitionId, principalId: spec.principalId, principalType: spec.principalType },
          { abortSignal: signal },
        ),
      );
      return { id: ra.id ?? "", name: ra.name ?? name };
    } catch (error) {
      const mapped = toAzureError(error, `assign role on ${spec.scope}`, this.#clock.now(), signal);
      if (!(mapped instanceof ExternalError) || mapped.code !== "RoleAssignmentExists") throw mapped;
      // Someone granted the same role under another name: that assignment is as good as ours.
      for await (const ra of this.#c.authorization.roleAssignments.listForScope(spec.scope, {
        abortSignal: signal,
      })) {
        if (
          ra.principalId === spec.principalId &&
          ra.roleDefinitionId?.toLowerCase().endsWith(spec.roleDefinitionId)
        ) {
          return { id: ra.id ?? "", name: ra.name ?? "" };
        }
      }
      throw mapped;
    }
  }

  deleteRoleAssignment(spec: RoleAssignmentSpec, signal: AbortSignal): Promise<boolean> {
    const name = roleAssignmentName(spec.scope, spec.roleDefinitionId, spec.principalId);
    return this.#try(`remove role on ${spec.scope}`, signal, async () => {
      try {
        // 200 with the assignment when it was there, 204 with no body when it was not.
        const ra = await this.#c.authorization.roleAssignments.delete(spec.scope, name, {
          abortSignal: signal,
        });
        return Boolean(ra?.id);
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    });
  }

  ensureFederatedCredential(spec: FederatedCredentialSpec, signal: AbortSignal): Promise<ResourceRef> {
    return this.#try(`create federated credential ${spec.name}`, signal, async () => {
      const fic = await this.#c.msi.federatedIdentityCredentials.createOrUpdate(
        spec.resourceGroup,
        spec.identityName,
        spec.name,
        { issuer: spec.issuer, subject: spec.subject, audiences: spec.audiences },
        { abortSignal: signal },
      );
      return { id: fic.id ?? "", name: fic.name ?? spec.name };
    });
  }
}
