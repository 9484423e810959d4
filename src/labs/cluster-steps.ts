import { ExternalError } from "../errors.ts";
import type { AzureLabPort, Tags } from "../ports/azure.ts";
import type { ClusterSession } from "../ports/cluster.ts";
import { renderLabManifests } from "./manifests.ts";
import type { StepContext, StepOutputs } from "./steps.ts";

/**
 * The steps a dedicated lab and a host cluster build alike: the resource
 * group, the AKS cluster (workload identity, OIDC issuer, the Key Vault CSI
 * addon with rotation), its credentials and Reloader. Each plan adds its own
 * around them (create-plan.ts, host-plan.ts).
 */

export interface ClusterStepsInput {
  resourceGroup: string;
  cluster: string;
  location: string;
  tags: Tags;
  nodeCount: number;
  vmSize: string;
  rotationPollInterval: string;
  /** What to do when the cluster came without an OIDC issuer (said in the error's hint). */
  recreateHint: string;
  /** Entra integration with Azure RBAC for Kubernetes (host clusters: namespace-access.ts). */
  entraRbac?: boolean;
}

type Run = (context: StepContext) => Promise<StepOutputs | undefined>;

export function clusterSteps(
  azure: Pick<AzureLabPort, "ensureResourceGroup" | "ensureCluster">,
  input: ClusterStepsInput,
  clusterSession: (signal: AbortSignal) => Promise<ClusterSession>,
): Record<"rg" | "aks" | "creds" | "reloader", Run> {
  return {
    async rg({ signal }) {
      const rg = await azure.ensureResourceGroup(input.resourceGroup, input.location, input.tags, signal);
      return { id: rg.id, name: rg.name };
    },
    async aks({ signal }) {
      const aks = await azure.ensureCluster(
        {
          resourceGroup: input.resourceGroup,
          name: input.cluster,
          location: input.location,
          nodeCount: input.nodeCount,
          vmSize: input.vmSize,
          rotationPollInterval: input.rotationPollInterval,
          tags: input.tags,
          ...(input.entraRbac ? { entraRbac: true } : {}),
        },
        signal,
      );
      if (!aks.oidcIssuerUrl) {
        throw new ExternalError("azure", "OidcIssuerMissing", `Cluster ${aks.name} has no OIDC issuer URL.`, {
          hint: input.recreateHint,
        });
      }
      return {
        id: aks.id,
        name: aks.name,
        oidcIssuerUrl: aks.oidcIssuerUrl,
        nodeResourceGroup: aks.nodeResourceGroup,
      };
    },
    async creds({ signal }) {
      // Proves the credential can be had; the kubeconfig itself stays in memory.
      await clusterSession(signal);
      return {};
    },
    async reloader({ signal }) {
      const s = await clusterSession(signal);
      await s.apply(renderLabManifests("reloader", {}), signal);
      return {};
    },
  };
}
