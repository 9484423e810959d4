import type { KubernetesEndpoint } from "../shared/world.ts";
import { AzureHttpError, asRecord } from "./http.ts";
import { buildKubeconfig } from "./kubeconfig.ts";

/**
 * AKS-managed Entra ID integration and Azure RBAC for Kubernetes on a
 * managed cluster, as ARM takes and gives them: `properties.aadProfile`,
 * ManagedClusterAADProfile in azure-rest-api-specs,
 * specification/containerservice/resource-manager/Microsoft.ContainerService/aks/stable/2025-10-01/managedClusters.json
 * (`managed`, `enableAzureRBAC`, `adminGroupObjectIDs`, `tenantID`, and the
 * deprecated legacy `clientAppID`/`serverAppID`/`serverAppSecret`).
 *
 * What it changes for a client: the cluster's user credential
 * (listClusterUserCredential) becomes a kubeconfig whose user signs in to
 * Entra with kubelogin (`exec`, the default; `format=azure` gives the retired
 * azure auth-provider), which only a person at a terminal can use; the local
 * admin credential (listClusterAdminCredential) stays a static credential
 * while local accounts are enabled (`disableLocalAccounts`, off by default).
 */

/** The AKS AAD server application every Entra-integrated cluster's token is for. */
export const AKS_AAD_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630";
/** The Azure CLI's public client, which kubelogin signs in as. */
const AZURE_CLI_CLIENT = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

const invalid = (message: string) => new AzureHttpError(400, "InvalidParameter", message);

/** Is AKS-managed Entra integration on in these (requested) properties? */
export function entraManaged(props: Record<string, unknown>): boolean {
  return asRecord(props.aadProfile)?.managed === true;
}

/**
 * AKS's checks of an aadProfile: Azure RBAC for Kubernetes needs the managed
 * integration; the integration needs Kubernetes RBAC; once on, it cannot be
 * turned off ("AKS-managed Microsoft Entra integration can't be disabled").
 */
export function validateAadProfile(props: Record<string, unknown>, existing?: Record<string, unknown>): void {
  const aad = asRecord(props.aadProfile);
  if (aad) {
    for (const key of ["managed", "enableAzureRBAC"] as const) {
      if (aad[key] !== undefined && typeof aad[key] !== "boolean")
        throw invalid(`properties.aadProfile.${key} must be a boolean.`);
    }
    if (aad.enableAzureRBAC === true && aad.managed !== true) {
      throw invalid(
        "Azure RBAC for Kubernetes authorization requires AKS-managed Azure AD: set properties.aadProfile.managed to true.",
      );
    }
    if (aad.managed === true && props.enableRBAC === false) {
      throw invalid("AKS-managed Azure AD requires Kubernetes RBAC: properties.enableRBAC cannot be false.");
    }
  }
  if (existing && entraManaged(existing) && !entraManaged(props)) {
    throw invalid("AKS-managed Azure AD cannot be disabled once it is enabled on a cluster.");
  }
}

/** The aadProfile as ARM returns it: the tenant filled in with the subscription's when not given. */
export function aadProfileJson(requested: unknown, tenantId: string): Record<string, unknown> | undefined {
  const aad = asRecord(requested);
  if (!aad) return undefined;
  return {
    ...aad,
    enableAzureRBAC: aad.enableAzureRBAC ?? false,
    ...(aad.managed === true ? { tenantID: aad.tenantID ?? tenantId } : {}),
  };
}

/** The user credential of an Entra-integrated cluster: kubelogin (`exec`) or the azure auth provider. */
export function entraUserKubeconfig(input: {
  clusterName: string;
  resourceGroup: string;
  endpoint: Pick<KubernetesEndpoint, "server" | "caPem">;
  tenantId: string;
  format: string | null;
}): string {
  const login =
    (input.format ?? "exec").toLowerCase() === "azure"
      ? {
          "auth-provider": {
            name: "azure",
            config: {
              "apiserver-id": AKS_AAD_SERVER_APP,
              "client-id": AZURE_CLI_CLIENT,
              "config-mode": "1",
              environment: "AzurePublicCloud",
              "tenant-id": input.tenantId,
            },
          },
        }
      : {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1beta1",
            command: "kubelogin",
            args: [
              "get-token",
              "--environment",
              "AzurePublicCloud",
              "--server-id",
              AKS_AAD_SERVER_APP,
              "--client-id",
              AZURE_CLI_CLIENT,
              "--tenant-id",
              input.tenantId,
              "--login",
              "devicecode",
            ],
            env: null,
            provideClusterInfo: false,
            installHint: "kubelogin is not installed which is required to connect to AAD enabled cluster.",
          },
        };
  return buildKubeconfig({ ...input, login });
}
