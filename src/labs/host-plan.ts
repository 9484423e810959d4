import type { Clock } from "../clock.ts";
import type { AzureLabPort, Tags } from "../ports/azure.ts";
import type { ClusterPort, ClusterSession } from "../ports/cluster.ts";
import type { HostRegistry } from "../ports/registry.ts";
import type { LabScheduler } from "../ports/scheduler.ts";
import { clusterSteps } from "./cluster-steps.ts";
import { hostNames } from "./naming.ts";
import type { Step } from "./steps.ts";
import { scaledRetry } from "./timing.ts";

/**
 * A host cluster (`host create NAME`) as a plan of steps: the cluster a lab
 * builds (workload identity, OIDC issuer, the Key Vault CSI addon with
 * rotation in the same create, Reloader) with no team in it. Labs go on it
 * with `lab create NAME --on HOST`, each in its own namespace, with its own
 * vault and identity (create-plan.ts, `host` input). The cluster has Entra ID
 * integration with Azure RBAC for Kubernetes, so labops can give a Teams
 * learner their namespace only (namespace-access.ts). Its teardown deletes the
 * resource group and forgets the host.
 */

export const HOST_CREATE_STEPS: ReadonlyArray<{ name: string; label: string; dependsOn: readonly string[] }> =
  [
    { name: "rg", label: "Resource group", dependsOn: [] },
    {
      name: "aks",
      label: "AKS cluster with workload identity and the Key Vault CSI addon",
      dependsOn: ["rg"],
    },
    { name: "creds", label: "Cluster credentials", dependsOn: ["aks"] },
    { name: "reloader", label: "Reloader", dependsOn: ["creds"] },
  ];

export const HOST_DESTROY_STEPS = [
  { name: "rg-delete", label: "Delete the host's resource group (the cluster)", dependsOn: [] },
  { name: "forget", label: "Forget the host", dependsOn: ["rg-delete"] },
] as const;

/** Host step outputs worth keeping on the host record, under flat names. */
const HOST_RECORD_OUTPUTS: Record<string, Record<string, string>> = {
  rg: { id: "resourceGroupId" },
  aks: { id: "clusterId", oidcIssuerUrl: "oidcIssuerUrl", nodeResourceGroup: "nodeResourceGroup" },
};

export function hostRecordOutputs(step: string, outputs: Record<string, string>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [from, to] of Object.entries(HOST_RECORD_OUTPUTS[step] ?? {})) {
    const v = outputs[from];
    if (v !== undefined) flat[to] = v;
  }
  return flat;
}

export interface HostPlanInput {
  host: string;
  location: string;
  tags: Tags;
  nodeCount: number;
  vmSize: string;
  rotationPollInterval: string;
}

export interface HostPlanPorts {
  azure: Pick<AzureLabPort, "ensureResourceGroup" | "ensureCluster" | "clusterUserKubeconfig">;
  cluster: ClusterPort;
  clock: Clock;
}

export function createHostPlan(
  input: HostPlanInput,
  ports: HostPlanPorts,
): { steps: Step[]; dispose(): void } {
  const names = hostNames(input.host);
  const { azure, cluster } = ports;
  let session: ClusterSession | undefined;
  const clusterSession = async (signal: AbortSignal) => {
    session ??= cluster.connect(
      await azure.clusterUserKubeconfig(names.resourceGroup, names.cluster, signal),
    );
    return session;
  };
  const run: Record<string, Step["run"]> = clusterSteps(
    azure,
    {
      ...input,
      resourceGroup: names.resourceGroup,
      cluster: names.cluster,
      recreateHint: "The host must be created with the OIDC issuer enabled; destroy it and create it again.",
      // Teams learners get their namespace through Azure RBAC for Kubernetes (namespace-access.ts).
      entraRbac: true,
    },
    clusterSession,
  );
  const retry = scaledRetry(
    { attempts: 6, initialDelayMs: 2_000, maxDelayMs: 30_000 },
    ports.clock.timeScale,
  );
  const steps = HOST_CREATE_STEPS.map((s): Step => {
    const fn = run[s.name];
    if (!fn) throw new Error(`no implementation for host step ${s.name}`);
    return { ...s, run: fn, retry };
  });
  return {
    steps,
    dispose() {
      session?.close();
      session = undefined;
    },
  };
}

export interface HostDestroyPorts {
  azure: Pick<AzureLabPort, "deleteResourceGroup">;
  hosts: Pick<HostRegistry, "delete">;
  /** The host's expiry is kept under `host.NAME` (jobs/processors/host-lock.ts). */
  scheduler: Pick<LabScheduler, "cancel">;
  clock: Clock;
}

/** Deletes the host's resource group and forgets it; the labs on it are destroyed before (host-destroy). */
export function createHostDestroyPlan(host: string, ports: HostDestroyPorts): Step[] {
  const names = hostNames(host);
  const retry = scaledRetry(
    { attempts: 6, initialDelayMs: 2_000, maxDelayMs: 30_000 },
    ports.clock.timeScale,
  );
  return [
    {
      ...HOST_DESTROY_STEPS[0],
      retry,
      async run({ signal }) {
        await ports.azure.deleteResourceGroup(names.resourceGroup, signal);
        return {};
      },
    },
    {
      ...HOST_DESTROY_STEPS[1],
      async run() {
        await ports.scheduler.cancel(`host.${host}`);
        await ports.hosts.delete(host);
        return {};
      },
    },
  ];
}
