import { stringify } from "yaml";
import type { KubernetesEndpoint } from "../shared/world.ts";

/**
 * The kubeconfig AKS returns from listClusterUserCredential for a cluster
 * with local accounts: one cluster, one user with a bearer token, one
 * context named after the cluster.
 */
export function buildKubeconfig(input: {
  clusterName: string;
  resourceGroup: string;
  endpoint: Pick<KubernetesEndpoint, "server" | "caPem"> & Partial<Pick<KubernetesEndpoint, "token">>;
  /** listClusterAdminCredential's user is `clusterAdmin_…` (its context too). */
  admin?: boolean;
  /** The user's credential when it is not the endpoint's bearer token (an Entra cluster's kubelogin, aks-entra.ts). */
  login?: Record<string, unknown>;
}): string {
  const user = `${input.admin ? "clusterAdmin" : "clusterUser"}_${input.resourceGroup}_${input.clusterName}`;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: input.clusterName,
        cluster: {
          "certificate-authority-data": Buffer.from(input.endpoint.caPem).toString("base64"),
          server: input.endpoint.server,
        },
      },
    ],
    contexts: [{ name: input.clusterName, context: { cluster: input.clusterName, user } }],
    "current-context": input.clusterName,
    preferences: {},
    users: [{ name: user, user: input.login ?? { token: input.endpoint.token } }],
  });
}
