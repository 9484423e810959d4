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
  endpoint: KubernetesEndpoint;
  /** listClusterAdminCredential's user is `clusterAdmin_…` (its context too). */
  admin?: boolean;
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
    users: [{ name: user, user: { token: input.endpoint.token } }],
  });
}
