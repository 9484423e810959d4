import type { ManagedCluster } from "@azure/arm-containerservice";
import { parse } from "yaml";
import { ExternalError } from "../../src/errors.ts";

/**
 * How labops reaches a cluster's API itself. On a cluster with Entra ID
 * integration, AKS's user credential is a kubeconfig whose user runs
 * kubelogin (`exec`) or names the retired `azure` auth provider: nothing a
 * bot can use. The cluster's local admin credential (a client certificate,
 * allowed to labops' Owner role by
 * Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action)
 * is taken there instead; local accounts stay enabled on the hosts labops makes.
 */

/** Does this kubeconfig's user need an interactive Entra sign-in (kubelogin or the azure auth provider)? */
export function needsEntraSignIn(kubeconfig: string): boolean {
  const doc = parse(kubeconfig) as { users?: Array<{ user?: Record<string, unknown> }> } | null;
  return (doc?.users ?? []).some(
    (u) => u.user?.exec !== undefined || u.user?.["auth-provider"] !== undefined,
  );
}

/** The first kubeconfig of a listCluster*Credentials answer, as text (bytes or base64 on the wire). */
export function kubeconfigText(
  result: { kubeconfigs?: Array<{ value?: Uint8Array | string }> },
  cluster: string,
): string {
  const value = result.kubeconfigs?.[0]?.value;
  if (!value)
    throw new ExternalError("azure", "NoKubeconfig", `Cluster ${cluster} returned no kubeconfig.`, {
      retryable: true,
    });
  return typeof value === "string"
    ? Buffer.from(value, "base64").toString("utf8")
    : Buffer.from(value).toString("utf8");
}

/**
 * The managed cluster's `aadProfile` for a host: AKS-managed Entra integration
 * with Azure RBAC for Kubernetes authorization. Its shape is
 * ManagedClusterAADProfile in azure-rest-api-specs,
 * specification/containerservice/resource-manager/Microsoft.ContainerService/aks/stable/2025-10-01/managedClusters.json
 * (`managed`, `enableAzureRBAC`, `adminGroupObjectIDs`, `tenantID`): no admin
 * group is named (labops keeps the local admin credential), and the tenant
 * defaults to the subscription's. The SDK spells the property `enableAzureRbac`
 * and sends it as the wire's `enableAzureRBAC`.
 */
export const ENTRA_RBAC_PROFILE: NonNullable<ManagedCluster["aadProfile"]> = {
  managed: true,
  enableAzureRbac: true,
};
