/**
 * How long Azure takes, in emulated milliseconds (divided by the time scale
 * before anything waits on them). Values are typical of what Azure shows for a
 * small lab in one region, not worst cases. Benchmarks read this profile to
 * compute the critical path of a lab create, so a change here moves the bar.
 *
 * `*Create`/`*Update`/`*Delete` of long-running operations are the time until
 * the operation reports Succeeded; the others delay the response of a
 * synchronous call.
 */
export interface AzureLatencyProfile {
  /** PUT resource group (synchronous). */
  resourceGroupCreate: number;
  /** DELETE resource group, until the operation succeeds (everything inside goes with it). */
  resourceGroupDelete: number;
  /** PUT managed cluster that creates it, until Succeeded. */
  managedClusterCreate: number;
  /** PUT managed cluster that changes an existing one, until Succeeded. */
  managedClusterUpdate: number;
  /** DELETE managed cluster, until the operation succeeds. */
  managedClusterDelete: number;
  /** POST listClusterUserCredential (synchronous). */
  listClusterUserCredential: number;
  /** PUT vault, until provisioningState leaves RegisteringDns. */
  vaultCreate: number;
  /** PUT vault that changes an existing one (synchronous). */
  vaultUpdate: number;
  /** DELETE vault (synchronous; the vault becomes soft-deleted). */
  vaultDelete: number;
  /** POST purge of a soft-deleted vault, until the operation succeeds. */
  vaultPurge: number;
  /** PUT user-assigned identity (synchronous). */
  identityCreate: number;
  /** PUT federated identity credential (synchronous). */
  federatedCredentialCreate: number;
  /** PUT role assignment (synchronous). */
  roleAssignmentCreate: number;
  /** Time after a role assignment is created before authorization honours it. */
  roleAssignmentPropagation: number;
  /** Any other ARM read. */
  armRead: number;
  /** Any other ARM write (PATCH, DELETE of small resources). */
  armWrite: number;
  /** A Key Vault data-plane call. */
  vaultDataPlane: number;
  /** A token from the Entra ID-like authority. */
  tokenIssue: number;
}

export const AZURE_LATENCY_PROFILE: Readonly<AzureLatencyProfile> = Object.freeze({
  resourceGroupCreate: 1_500,
  resourceGroupDelete: 300_000,
  managedClusterCreate: 360_000,
  managedClusterUpdate: 180_000,
  managedClusterDelete: 300_000,
  listClusterUserCredential: 1_000,
  vaultCreate: 20_000,
  vaultUpdate: 3_000,
  vaultDelete: 3_000,
  vaultPurge: 30_000,
  identityCreate: 2_000,
  federatedCredentialCreate: 2_000,
  roleAssignmentCreate: 1_500,
  roleAssignmentPropagation: 90_000,
  armRead: 120,
  armWrite: 800,
  vaultDataPlane: 60,
  tokenIssue: 150,
});

/** Names of the entries that delay a response (the rest run as operations in the background). */
export const SYNCHRONOUS_LATENCIES: ReadonlySet<keyof AzureLatencyProfile> = new Set([
  "resourceGroupCreate",
  "listClusterUserCredential",
  "vaultUpdate",
  "vaultDelete",
  "identityCreate",
  "federatedCredentialCreate",
  "roleAssignmentCreate",
  "armRead",
  "armWrite",
  "vaultDataPlane",
  "tokenIssue",
]);

export function resolveLatencyProfile(overrides: Partial<AzureLatencyProfile> = {}): AzureLatencyProfile {
  const profile = { ...AZURE_LATENCY_PROFILE };
  for (const [key, value] of Object.entries(overrides) as [keyof AzureLatencyProfile, number | undefined][]) {
    if (value === undefined) continue;
    if (!(key in profile)) throw new RangeError(`unknown latency entry "${key}"`);
    if (!(value >= 0) || !Number.isFinite(value)) {
      throw new RangeError(`latency "${key}" must be a non-negative number of milliseconds, got ${value}`);
    }
    profile[key] = value;
  }
  return profile;
}
