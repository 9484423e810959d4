import type { EmulatorClock } from "./clock.ts";

/**
 * The contract between the Azure emulator and the AKS (Kubernetes) emulator,
 * both running in one process. The Azure side owns ARM, Entra ID, Key Vault
 * and each cluster's OIDC issuer (in AKS the issuer is an Azure-hosted
 * endpoint); the Kubernetes side owns the API servers and the in-cluster
 * controllers. The CSI driver emulation talks to the Azure side over the wire
 * (token endpoint, vault data plane) like the real driver; only the signing of
 * service-account tokens crosses in process, as the API server's signing key
 * would.
 */

export interface KeyVaultAddonConfig {
  enabled: boolean;
  /** "true"/"false" in the ARM config map; parsed here. */
  enableSecretRotation: boolean;
  /** Go duration as given in ARM (e.g. "1m", "2m0s"). */
  rotationPollInterval: string;
  /** clientId of the addon's own identity (azurekeyvaultsecretsprovider-<cluster>). */
  identityClientId?: string;
}

export interface ClusterInfo {
  /** ARM resource id of the managed cluster. */
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  /** Unique per cluster; part of the OIDC issuer URL. */
  clusterGuid: string;
  oidcIssuerEnabled: boolean;
  /** Ends with "/", like AKS's. Empty when the issuer is not enabled. */
  oidcIssuerUrl: string;
  workloadIdentityEnabled: boolean;
  /** Absent when the azureKeyvaultSecretsProvider addon was never configured. */
  keyVaultAddon?: KeyVaultAddonConfig;
  /** Sum of agent pool counts. */
  nodeCount: number;
  nodeResourceGroup: string;
  kubernetesVersion: string;
}

export type ClusterEvent =
  | { type: "created"; cluster: ClusterInfo }
  | { type: "updated"; cluster: ClusterInfo }
  | { type: "deleted"; cluster: ClusterInfo };

/** What `listClusterUserCredential` needs to build a kubeconfig. */
export interface KubernetesEndpoint {
  /** https://127.0.0.1:PORT */
  server: string;
  /** PEM the client must trust for `server`. */
  caPem: string;
  /** Bearer token the API server accepts. */
  token: string;
}

export interface ServiceAccountTokenRequest {
  namespace: string;
  serviceAccount: string;
  audience: string;
  expiresInSeconds?: number;
}

/** What the Azure emulator offers the Kubernetes emulator. */
export interface AzureWorldLink {
  readonly tenantId: string;
  /** Entra ID-like authority, e.g. https://127.0.0.1:PORT (tokens at /{tenant}/oauth2/v2.0/token). */
  readonly authorityHost: string;
  /** PEM of the CA that signed every emulator certificate. */
  readonly caPem: string;
  readonly clock: EmulatorClock;
  /** Clusters whose create has succeeded and that are not deleted. */
  clusters(): ClusterInfo[];
  /** Called after a create or update succeeds and when a delete completes. Returns an unsubscribe function. */
  onClusterEvent(listener: (event: ClusterEvent) => void): () => void;
  /**
   * A service-account token (JWT) signed with the cluster's issuer key: iss is
   * the cluster's OIDC issuer URL, sub "system:serviceaccount:NS:SA", aud the
   * audience. The Entra ID emulator verifies such assertions against the
   * issuer's published keys when a client exchanges them for a token.
   */
  signServiceAccountToken(clusterId: string, request: ServiceAccountTokenRequest): Promise<string>;
  /** The data-plane URI of a live vault ("https://127.0.0.1:PORT/"), as the Azure provider builds from a vault name. */
  vaultUri(vaultName: string): string | undefined;
  /** The Kubernetes emulator registers itself so that listClusterUserCredential points at it. */
  setKubernetesEndpointProvider(provider: (cluster: ClusterInfo) => KubernetesEndpoint | undefined): void;
}
