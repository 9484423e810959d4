import type { SecretValue } from "../secret-value.ts";

/**
 * The Azure side of a lab, as the steps need it. Every `ensure*` is
 * idempotent (PUT semantics or look-before-create) and returns what exists
 * afterwards. Failures are ExternalErrors with Azure's error code, a hint when
 * there is one, and `retryable`/`retryAfterMs` set for throttling, transient
 * faults and conflicts that clear.
 */

export type Tags = Record<string, string>;

export interface ResourceRef {
  id: string;
  name: string;
}

export interface ClusterSpec {
  resourceGroup: string;
  name: string;
  location: string;
  nodeCount: number;
  vmSize: string;
  /** Secrets Store CSI addon rotation poll interval, e.g. "1m". */
  rotationPollInterval: string;
  tags: Tags;
  /**
   * Entra ID integration (AKS-managed) with Azure RBAC for Kubernetes
   * authorization, so role assignments can give people one namespace
   * (host clusters; src/labs/namespace-access.ts). Off when absent.
   */
  entraRbac?: boolean;
}

export interface ClusterInfo extends ResourceRef {
  provisioningState: string;
  oidcIssuerUrl: string;
  workloadIdentity: boolean;
  nodeResourceGroup: string;
  keyVaultAddon: { enabled: boolean; rotation: boolean; rotationPollInterval: string } | undefined;
  nodeCount: number;
  /** Entra integration with Azure RBAC for Kubernetes is on (absent: unknown, taken as off). */
  entraRbac?: boolean;
}

export interface VaultInfo extends ResourceRef {
  vaultUri: string;
  rbac: boolean;
}

export interface IdentityInfo extends ResourceRef {
  clientId: string;
  principalId: string;
  tenantId: string;
}

export interface RoleAssignmentSpec {
  scope: string;
  /** The role definition's GUID (see ROLE in src/labs/naming.ts). */
  roleDefinitionId: string;
  principalId: string;
  principalType: "ServicePrincipal" | "User" | "Group";
}

export interface FederatedCredentialSpec {
  resourceGroup: string;
  identityName: string;
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

export interface AzureLabPort {
  readonly subscriptionId: string;
  readonly tenantId: string;
  /** Object id of the bot's own principal (from its token's `oid`). */
  callerPrincipalId(signal: AbortSignal): Promise<string>;

  ensureResourceGroup(name: string, location: string, tags: Tags, signal: AbortSignal): Promise<ResourceRef>;
  getResourceGroup(name: string, signal: AbortSignal): Promise<(ResourceRef & { tags: Tags }) | undefined>;
  /** Deletes the group and everything in it (long-running); resolves when it is gone. Absent is fine. */
  deleteResourceGroup(name: string, signal: AbortSignal): Promise<void>;

  ensureCluster(spec: ClusterSpec, signal: AbortSignal): Promise<ClusterInfo>;
  getCluster(resourceGroup: string, name: string, signal: AbortSignal): Promise<ClusterInfo | undefined>;
  /**
   * The kubeconfig (YAML) labops itself connects with: the cluster-user one,
   * or on a cluster with Entra integration (whose user kubeconfig needs
   * kubelogin and an Entra sign-in) the cluster's local admin one. Holds a
   * credential: never log or store it.
   */
  clusterUserKubeconfig(resourceGroup: string, name: string, signal: AbortSignal): Promise<string>;

  /** Throws ExternalError code "VaultAlreadyExists" when the global name is taken elsewhere. */
  ensureVault(
    spec: { resourceGroup: string; name: string; location: string; tags: Tags },
    signal: AbortSignal,
  ): Promise<VaultInfo>;
  getVault(resourceGroup: string, name: string, signal: AbortSignal): Promise<VaultInfo | undefined>;
  /** Purges a soft-deleted vault; false when there is none of that name. */
  purgeDeletedVault(name: string, location: string, signal: AbortSignal): Promise<boolean>;

  ensureIdentity(
    spec: { resourceGroup: string; name: string; location: string; tags: Tags },
    signal: AbortSignal,
  ): Promise<IdentityInfo>;
  getIdentity(resourceGroup: string, name: string, signal: AbortSignal): Promise<IdentityInfo | undefined>;
  ensureRoleAssignment(spec: RoleAssignmentSpec, signal: AbortSignal): Promise<ResourceRef>;
  /**
   * Deletes the assignment ensureRoleAssignment made for `spec` (the same
   * deterministic name); true when one was deleted, false when there was none.
   */
  deleteRoleAssignment(spec: RoleAssignmentSpec, signal: AbortSignal): Promise<boolean>;
  ensureFederatedCredential(spec: FederatedCredentialSpec, signal: AbortSignal): Promise<ResourceRef>;
}

export interface SecretVersionInfo {
  name: string;
  version: string;
  enabled: boolean;
  createdOn: number | undefined;
  updatedOn: number | undefined;
  tags: Tags;
}

/** The Key Vault data plane. Values travel only as SecretValue. */
export interface KeyVaultPort {
  setSecret(
    vaultUri: string,
    name: string,
    value: SecretValue,
    tags: Tags,
    signal: AbortSignal,
  ): Promise<SecretVersionInfo>;
  /** The current (latest enabled) version, or undefined when the secret does not exist. */
  currentVersion(vaultUri: string, name: string, signal: AbortSignal): Promise<SecretVersionInfo | undefined>;
  /** Every version, newest first. */
  listVersions(vaultUri: string, name: string, signal: AbortSignal): Promise<SecretVersionInfo[]>;
  /** Every secret with its current version. */
  listSecrets(vaultUri: string, signal: AbortSignal): Promise<SecretVersionInfo[]>;
  getValue(vaultUri: string, name: string, version: string, signal: AbortSignal): Promise<SecretValue>;
}
