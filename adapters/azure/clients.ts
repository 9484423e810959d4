import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { ContainerServiceClient } from "@azure/arm-containerservice";
import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { ManagedServiceIdentityClient } from "@azure/arm-msi";
import { ResourceManagementClient } from "@azure/arm-resources";
import type { TokenCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import type { Metrics } from "../../src/ports/metrics.ts";
import { metricsPolicy } from "./metrics-policy.ts";

/** Azure Resource Manager in the public cloud. */
export const PUBLIC_ARM_ENDPOINT = "https://management.azure.com";

/**
 * The Key Vault management API version, pinned so that an SDK upgrade cannot
 * change it unnoticed. Versions before 2026-02-01 retire in February 2027;
 * 2026-02-01 makes Azure RBAC the default permission model
 * (azure-rest-api-specs specification/keyvault/resource-manager/
 * Microsoft.KeyVault/stable/2026-02-01/openapi.json: VaultProperties.
 * enableRbacAuthorization "default": true). @azure/arm-keyvault 5.0.0
 * defaults to it already (dist api/vaults/operations.js: `context.apiVersion
 * ?? "2026-02-01"`); the lab sets enableRbacAuthorization explicitly anyway.
 */
export const KEY_VAULT_MANAGEMENT_API_VERSION = "2026-02-01";

export interface AzureRetrySettings {
  /** Retries after the first attempt (the SDK default is 3). */
  maxRetries?: number;
  /** Base of the exponential backoff, ms. */
  retryDelayInMs?: number;
  maxRetryDelayInMs?: number;
}

export interface AzureClientSettings {
  /** ARM endpoint (ARM_ENDPOINT); the public cloud's when absent. */
  endpoint?: string;
  credential: TokenCredential;
  subscriptionId: string;
  /** Extra PEM to trust (LABOPS_CA_FILE's content). */
  caPem?: string;
  retry?: AzureRetrySettings;
  /** Counts every HTTP attempt (throttles included) when given. */
  metrics?: Metrics;
}

export interface AzureClients {
  resources: ResourceManagementClient;
  containerService: ContainerServiceClient;
  keyVault: KeyVaultManagementClient;
  msi: ManagedServiceIdentityClient;
  authorization: AuthorizationManagementClient;
  /** A data-plane client for one vault (its vaultUri). */
  secrets(vaultUri: string): SecretClient;
}

/**
 * Key Vault's challenge check expects a vault host under the challenge's
 * resource (`*.vault.azure.net` for https://vault.azure.net). Vaults
 * reached by an IP or another host (emulators, private DNS names) need the
 * check off; the origin check stays on, so a token never leaves its vault.
 */
export function needsChallengeResourceVerificationDisabled(vaultUri: string): boolean {
  const host = new URL(vaultUri).hostname.toLowerCase();
  return !/\.(vault|managedhsm)\.[a-z0-9.-]+$/.test(host);
}

export function createAzureClients(settings: AzureClientSettings): AzureClients {
  const endpoint = (settings.endpoint ?? PUBLIC_ARM_ENDPOINT).replace(/\/+$/, "");
  const { credential, subscriptionId } = settings;
  const policies = settings.metrics
    ? { additionalPolicies: [{ policy: metricsPolicy(settings.metrics), position: "perRetry" as const }] }
    : {};
  const common = {
    endpoint,
    ...(settings.caPem ? { tlsOptions: { ca: settings.caPem } } : {}),
    ...(settings.retry ? { retryOptions: { ...settings.retry } } : {}),
    ...policies,
  };
  return {
    resources: new ResourceManagementClient(credential, subscriptionId, common),
    containerService: new ContainerServiceClient(credential, subscriptionId, common),
    keyVault: new KeyVaultManagementClient(credential, subscriptionId, {
      ...common,
      apiVersion: KEY_VAULT_MANAGEMENT_API_VERSION,
    }),
    msi: new ManagedServiceIdentityClient(credential, subscriptionId, common),
    authorization: new AuthorizationManagementClient(credential, subscriptionId, common),
    secrets(vaultUri: string) {
      return new SecretClient(vaultUri, credential, {
        ...policies,
        ...(settings.caPem ? { tlsOptions: { ca: settings.caPem } } : {}),
        ...(settings.retry ? { retryOptions: { ...settings.retry } } : {}),
        ...(needsChallengeResourceVerificationDisabled(vaultUri)
          ? { disableChallengeResourceVerification: true }
          : {}),
      });
    },
  };
}

/**
 * The caller's own object id, read from the `oid` claim of an ARM token. The
 * bot needs it to grant itself Key Vault Secrets Officer (the role-bot step)
 * without a directory lookup.
 */
export async function callerObjectId(
  credential: TokenCredential,
  scope = `${PUBLIC_ARM_ENDPOINT}/.default`,
): Promise<string> {
  const token = await credential.getToken(scope);
  if (!token) throw new Error(`no token for ${scope}`);
  const payload = token.token.split(".")[1];
  if (!payload) throw new Error("the access token is not a JWT; cannot read its oid claim");
  const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  const oid = typeof claims === "object" && claims !== null ? (claims as { oid?: unknown }).oid : undefined;
  if (typeof oid !== "string" || oid === "") throw new Error("the access token carries no oid claim");
  return oid;
}
