import { randomUUID } from "node:crypto";
import type { EmulatorClock } from "../../../emulators/shared/clock.ts";
import type {
  AzureWorldLink,
  ClusterEvent,
  ClusterInfo,
  KubernetesEndpoint,
  ServiceAccountTokenRequest,
} from "../../../emulators/shared/world.ts";

/**
 * A stand-in for the Azure emulator's side of the contract, for tests of the
 * API server and controllers that need no Azure behind them: clusters are
 * announced by hand and tokens are unsigned.
 */
export interface FakeAzureWorld extends AzureWorldLink {
  addCluster(overrides?: Partial<ClusterInfo>): ClusterInfo;
  updateCluster(info: ClusterInfo): void;
  deleteCluster(info: ClusterInfo): void;
  endpoint(info: ClusterInfo): KubernetesEndpoint | undefined;
  readonly tokenRequests: ServiceAccountTokenRequest[];
}

export function fakeAzureWorld(clock: EmulatorClock, caPem = ""): FakeAzureWorld {
  const clusters = new Map<string, ClusterInfo>();
  const listeners = new Set<(e: ClusterEvent) => void>();
  let provider: (c: ClusterInfo) => KubernetesEndpoint | undefined = () => undefined;
  const tokenRequests: ServiceAccountTokenRequest[] = [];
  const emit = (e: ClusterEvent) => {
    for (const l of listeners) l(e);
  };
  return {
    tenantId: "00000000-0000-0000-0000-000000000001",
    authorityHost: "https://127.0.0.1:1",
    caPem,
    clock,
    tokenRequests,
    clusters: () => [...clusters.values()],
    onClusterEvent(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    async signServiceAccountToken(_clusterId, request) {
      tokenRequests.push(request);
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
      return `${enc({ alg: "none" })}.${enc({ sub: `system:serviceaccount:${request.namespace}:${request.serviceAccount}`, aud: request.audience })}.`;
    },
    vaultUri: () => undefined,
    setKubernetesEndpointProvider(p) {
      provider = p;
    },
    addCluster(overrides = {}) {
      const guid = randomUUID();
      const name = overrides.name ?? `aks-${guid.slice(0, 8)}`;
      const rg = overrides.resourceGroup ?? "rg-test";
      const info: ClusterInfo = {
        id: `/subscriptions/sub/resourceGroups/${rg}/providers/Microsoft.ContainerService/managedClusters/${name}`,
        subscriptionId: "sub",
        resourceGroup: rg,
        name,
        location: "centralus",
        clusterGuid: guid,
        oidcIssuerEnabled: true,
        oidcIssuerUrl: `https://centralus.oic.prod-aks.azure.com/tenant/${guid}/`,
        workloadIdentityEnabled: true,
        nodeCount: 2,
        nodeResourceGroup: `MC_${rg}_${name}_centralus`,
        kubernetesVersion: "1.33.2",
        ...overrides,
      };
      clusters.set(info.id, info);
      emit({ type: "created", cluster: info });
      return info;
    },
    updateCluster(info) {
      clusters.set(info.id, info);
      emit({ type: "updated", cluster: info });
    },
    deleteCluster(info) {
      clusters.delete(info.id);
      emit({ type: "deleted", cluster: info });
    },
    endpoint: (info) => provider(info),
  };
}
