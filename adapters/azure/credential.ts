import type { TokenCredential } from "@azure/identity";
import { ClientSecretCredential, WorkloadIdentityCredential } from "@azure/identity";

/** Entra ID's public-cloud authority; MSAL's instance discovery knows only Microsoft's clouds. */
export const ENTRA_PUBLIC_AUTHORITY = "https://login.microsoftonline.com";

export interface AzureCredentialSettings {
  tenantId: string;
  clientId: string;
  /** A client secret (service principal). Exactly one of clientSecret and federatedTokenFile. */
  clientSecret?: string;
  /** Path of a projected service-account token (workload identity; AZURE_FEDERATED_TOKEN_FILE). */
  federatedTokenFile?: string;
  /** Authority host such as https://login.microsoftonline.us; Entra's public cloud when absent. */
  authorityHost?: string;
  /** Extra PEM to trust for the authority (emulators, TLS-inspecting proxies). */
  caPem?: string;
}

export class AzureCredentialConfigError extends Error {
  readonly code = "AZURE_CREDENTIAL_CONFIG";
  constructor(message: string) {
    super(message);
    this.name = "AzureCredentialConfigError";
  }
}

/**
 * MSAL resolves a non-Microsoft authority by asking Microsoft's instance
 * discovery about it, which fails (`endpoints_resolution_error`) for
 * sovereign clouds reached by a custom host, Azure Stack and emulators; for
 * those the authority's own OpenID metadata is used instead.
 */
export function needsInstanceDiscoveryDisabled(authorityHost: string | undefined): boolean {
  if (!authorityHost) return false;
  let host: string;
  try {
    host = new URL(authorityHost).host.toLowerCase();
  } catch {
    throw new AzureCredentialConfigError(
      `AZURE_AUTHORITY_HOST '${authorityHost}' is not a URL; set it to an https URL such as ${ENTRA_PUBLIC_AUTHORITY}.`,
    );
  }
  return host !== new URL(ENTRA_PUBLIC_AUTHORITY).host;
}

/**
 * The bot's Azure credential: a client secret, or workload identity (a
 * federated token file exchanged for a token). The CA in `caPem` reaches the
 * token requests too: @azure/identity builds its HTTP pipeline from the
 * credential options, `tlsOptions` included (measured with
 * @azure/identity 4.14), so NODE_EXTRA_CA_CERTS is not needed for Azure.
 */
export function createAzureCredential(settings: AzureCredentialSettings): TokenCredential {
  const { tenantId, clientId, clientSecret, federatedTokenFile, authorityHost, caPem } = settings;
  if (!tenantId)
    throw new AzureCredentialConfigError("AZURE_TENANT_ID is empty; set it to the directory (tenant) id.");
  if (!clientId)
    throw new AzureCredentialConfigError(
      "AZURE_CLIENT_ID is empty; set it to the bot's application (client) id.",
    );
  if (clientSecret && federatedTokenFile) {
    throw new AzureCredentialConfigError(
      "Both AZURE_CLIENT_SECRET and AZURE_FEDERATED_TOKEN_FILE are set; keep only one (the token file for workload identity).",
    );
  }
  const common = {
    ...(authorityHost ? { authorityHost } : {}),
    ...(needsInstanceDiscoveryDisabled(authorityHost) ? { disableInstanceDiscovery: true } : {}),
    ...(caPem ? { tlsOptions: { ca: caPem } } : {}),
  };
  if (clientSecret) return new ClientSecretCredential(tenantId, clientId, clientSecret, common);
  if (federatedTokenFile) {
    return new WorkloadIdentityCredential({
      ...common,
      tenantId,
      clientId,
      tokenFilePath: federatedTokenFile,
    });
  }
  throw new AzureCredentialConfigError(
    "Neither AZURE_CLIENT_SECRET nor AZURE_FEDERATED_TOKEN_FILE is set; set one of them for the bot's identity.",
  );
}
