import { describe, expect, it } from "vitest";
import { parseCommandText } from "../../src/commands/parse.ts";
import { createLabPlan, HOSTED_CREATE_STEPS } from "../../src/labs/create-plan.ts";
import { createDestroyPlan } from "../../src/labs/destroy-plan.ts";
import { createHostDestroyPlan, createHostPlan, HOST_CREATE_STEPS } from "../../src/labs/host-plan.ts";
import { hostNames, labNames, labNamesOf } from "../../src/labs/naming.ts";
import { runPlan, type Step } from "../../src/labs/runner.ts";
import { createLogger } from "../../src/log.ts";
import type { AzureLabPort, FederatedCredentialSpec, KeyVaultPort } from "../../src/ports/azure.ts";
import type { ClusterPort, ClusterSession, KubeObject } from "../../src/ports/cluster.ts";
import { ManualClock } from "../fakes/clock.ts";
import { MemoryLabRegistry } from "../fakes/registry.ts";

/**
 * The host plans and the plans of a lab on a host, run by the runner against
 * fakes behind the Azure, Key Vault and cluster ports: what each asks of
 * Azure and of the cluster, and what it leaves alone.
 */

const logger = createLogger({ level: "silent" });
const ISSUER = "https://oidc.example/host-ws/";

/** The Azure port as the plans use it, recording each call. */
function fakeAzure() {
  const calls: string[] = [];
  const fics: FederatedCredentialSpec[] = [];
  const azure = {
    subscriptionId: "sub",
    tenantId: "tenant",
    callerPrincipalId: async () => "bot-oid",
    ensureResourceGroup: async (name: string) => {
      calls.push(`rg ${name}`);
      return { id: `/rg/${name}`, name };
    },
    getResourceGroup: async () => undefined,
    deleteResourceGroup: async (name: string) => {
      calls.push(`delete ${name}`);
    },
    ensureCluster: async (spec: { resourceGroup: string; name: string; nodeCount: number }) => {
      calls.push(`aks ${spec.resourceGroup}/${spec.name} x${spec.nodeCount}`);
      return {
        id: `/aks/${spec.name}`,
        name: spec.name,
        provisioningState: "Succeeded",
        oidcIssuerUrl: ISSUER,
        workloadIdentity: true,
        nodeResourceGroup: "MC",
        keyVaultAddon: { enabled: true, rotation: true, rotationPollInterval: "1m" },
        nodeCount: spec.nodeCount,
      };
    },
    getCluster: async (rg: string, name: string) => ({ id: `/aks/${rg}/${name}` }),
    clusterUserKubeconfig: async (rg: string, name: string) => {
      calls.push(`kubeconfig ${rg}/${name}`);
      return `kubeconfig-of-${name}`;
    },
    ensureVault: async (spec: { name: string }) => ({
      id: `/kv/${spec.name}`,
      name: spec.name,
      vaultUri: `https://${spec.name}.vault/`,
      rbac: true,
    }),
    getVault: async () => undefined,
    purgeDeletedVault: async (name: string) => {
      calls.push(`purge ${name}`);
      return true;
    },
    ensureIdentity: async (spec: { name: string }) => ({
      id: `/mi/${spec.name}`,
      name: spec.name,
      clientId: `client-${spec.name}`,
      principalId: `oid-${spec.name}`,
      tenantId: "tenant",
    }),
    getIdentity: async () => undefined,
    ensureRoleAssignment: async (spec: { scope: string; principalId: string }) => {
      calls.push(`role ${spec.principalId} on ${spec.scope}`);
      return { id: "ra", name: "ra" };
    },
    ensureFederatedCredential: async (spec: FederatedCredentialSpec) => {
      fics.push(spec);
      return { id: "fic", name: spec.name };
    },
  } as unknown as AzureLabPort; // only what the plans call; a missing method fails the test loudly
  return { azure, calls, fics };
}

const keyVault: KeyVaultPort = {
  setSecret: async (_uri, name) => ({
    name,
    version: `v-${name}`,
    enabled: true,
    createdOn: 0,
    updatedOn: 0,
    tags: {},
  }),
  currentVersion: async (_uri, name) => ({
    name,
    version: `v-${name}`,
    enabled: true,
    createdOn: 0,
    updatedOn: 0,
    tags: {},
  }),
  listVersions: async () => [],
  listSecrets: async () => [],
  getValue: async () => {
    throw new Error("never read");
  },
};

/** A cluster whose pods are ready on the vault's versions, recording applies and namespace deletions. */
function fakeCluster(namespaceTerminatingFor = 0) {
  const applied: KubeObject[] = [];
  const connected: string[] = [];
  const deleted: string[] = [];
  let terminating = namespaceTerminatingFor;
  const session: ClusterSession = {
    apply: async (objects) => {
      applied.push(...objects);
    },
    getDeployment: async () => undefined,
    listPods: async (namespace) =>
      ["p1", "p2"].map((name) => ({
        name,
        namespace,
        phase: "Running",
        ready: true,
        reason: undefined,
        restartCount: 0,
        createdAt: 0,
        readyAt: 0,
        deletionTimestamp: undefined,
        labels: {},
        ownerReplicaSet: undefined,
      })),
    listMounts: async (namespace) =>
      ["p1", "p2"].map((podName) => ({
        podName,
        namespace,
        secretProviderClass: "azure-keyvault-secrets",
        mounted: true,
        versions: { "db-connection-string": "v-db-connection-string", color: "v-color" },
      })),
    listEvents: async () => [],
    deleteNamespace: async (name) => {
      deleted.push(name);
      return terminating-- > 0 ? "terminating" : "gone";
    },
    close: () => undefined,
  };
  const cluster: ClusterPort = {
    connect: (kubeconfig) => {
      connected.push(kubeconfig);
      return session;
    },
  };
  return { cluster, applied, connected, deleted };
}

async function run(steps: Step[], clock: ManualClock): Promise<void> {
  const running = runPlan(steps, {
    signal: new AbortController().signal,
    logger,
    clock,
    checkpoints: { done: {}, save: async () => {} },
  });
  // Advance the manual clock through any poll the plans wait on.
  for (let i = 0; i < 50; i++) {
    const settled = await Promise.race([
      running.then(() => true),
      new Promise<false>((r) => setImmediate(() => r(false))),
    ]);
    if (settled) return;
    clock.advance(10_000);
  }
  await running;
}

describe("host plans", () => {
  it("builds a host like a lab's cluster, with no team in it", async () => {
    const { azure, calls, fics } = fakeAzure();
    const { cluster, applied } = fakeCluster();
    const clock = new ManualClock();
    const plan = createHostPlan(
      {
        host: "ws",
        location: "westeurope",
        tags: {},
        nodeCount: 3,
        vmSize: "Standard_B2s",
        rotationPollInterval: "1m",
      },
      { azure, cluster, clock },
    );
    expect(plan.steps.map((s) => [s.name, [...s.dependsOn]])).toEqual(
      HOST_CREATE_STEPS.map((s) => [s.name, [...s.dependsOn]]),
    );
    await run(plan.steps, clock);
    expect(calls).toEqual([
      "rg host-ws-rg",
      "aks host-ws-rg/host-ws-aks x3",
      "kubeconfig host-ws-rg/host-ws-aks",
    ]);
    // Reloader and its cluster-wide objects, and nothing of a team.
    expect(applied.filter((o) => o.kind === "Namespace").map((o) => o.metadata.name)).toEqual(["reloader"]);
    expect(applied.every((o) => (o.metadata.namespace ?? "reloader") === "reloader")).toBe(true);
    expect(fics).toEqual([]);
  });

  it("destroys a host's resource group and forgets it", async () => {
    const { azure, calls } = fakeAzure();
    const hosts = new MemoryLabRegistry<never>();
    const forgotten: string[] = [];
    const cancelled: string[] = [];
    await run(
      createHostDestroyPlan("ws", {
        azure,
        hosts: {
          delete: async (n) => {
            forgotten.push(n);
            await hosts.delete(n);
          },
        },
        scheduler: { cancel: async (n) => void cancelled.push(n) },
        clock: new ManualClock(),
      }),
      new ManualClock(),
    );
    expect(calls).toEqual(["delete host-ws-rg"]);
    expect(forgotten).toEqual(["ws"]);
    expect(cancelled).toEqual(["host.ws"]);
  });
});

describe("a lab on a host", () => {
  it("names its own resource group and identity, its host's cluster, and its own namespace", () => {
    expect(labNames("team-a", "ws")).toMatchObject({
      resourceGroup: "lab-team-a-rg",
      identity: "lab-team-a-mi",
      cluster: "host-ws-aks",
      clusterResourceGroup: "host-ws-rg",
      namespace: "lab-team-a",
    });
    expect(labNamesOf({ name: "team-a" })).toMatchObject({
      cluster: "lab-team-a-aks",
      namespace: "secret-lab",
      host: undefined,
    });
    expect(hostNames("ws")).toEqual({ host: "ws", resourceGroup: "host-ws-rg", cluster: "host-ws-aks" });
  });

  it("creates no cluster, trusts the host's issuer for its namespace's service account, and deploys into that namespace", async () => {
    const { azure, calls, fics } = fakeAzure();
    const { cluster, applied, connected } = fakeCluster();
    const clock = new ManualClock();
    const plan = createLabPlan(
      {
        lab: "team-a",
        location: "westeurope",
        subscriptionId: "sub",
        tenantId: "tenant",
        tags: {},
        replicas: 2,
        nodeCount: 2,
        vmSize: "Standard_B2s",
        rotationPollInterval: "1m",
        host: { name: "ws", oidcIssuerUrl: ISSUER },
      },
      { azure, keyVault, cluster, clock },
    );
    expect(plan.steps.map((s) => s.name)).toEqual(HOSTED_CREATE_STEPS.map((s) => s.name));
    await run(plan.steps, clock);
    plan.dispose();
    expect(calls.filter((c) => c.startsWith("aks"))).toEqual([]);
    expect(calls).toContain("rg lab-team-a-rg");
    expect(calls).toContain("kubeconfig host-ws-rg/host-ws-aks");
    expect(connected).toEqual(["kubeconfig-of-host-ws-aks"]);
    // The identity reads its own vault only.
    expect(calls.filter((c) => c.startsWith("role oid-lab-team-a-mi"))).toEqual([
      expect.stringMatching(/^role oid-lab-team-a-mi on \/kv\/kv-team-a-/),
    ]);
    expect(fics).toEqual([
      expect.objectContaining({
        issuer: ISSUER,
        subject: "system:serviceaccount:lab-team-a:secret-lab-sa",
        identityName: "lab-team-a-mi",
        resourceGroup: "lab-team-a-rg",
      }),
    ]);
    expect(
      new Set(applied.map((o) => (o.kind === "Namespace" ? o.metadata.name : o.metadata.namespace))),
    ).toEqual(new Set(["lab-team-a"]));
    expect(applied.some((o) => o.metadata.namespace === "reloader")).toBe(false);
  });

  it("destroys its namespace first and waits for it to go, then its own resource group and vault", async () => {
    const { azure, calls } = fakeAzure();
    const { cluster, deleted } = fakeCluster(2);
    const registry = new MemoryLabRegistry();
    const clock = new ManualClock();
    const steps = createDestroyPlan(
      {
        lab: "team-a",
        location: "westeurope",
        subscriptionId: "sub",
        vaultName: "kv-team-a-xxxxx",
        host: "ws",
      },
      {
        azure,
        cluster,
        registry,
        scheduler: { cancel: async () => {} },
        watchState: { delete: async () => {} },
        clock,
      },
    );
    expect(steps.map((s) => s.name)).toEqual([
      "ns-delete",
      "access-delete",
      "rg-delete",
      "kv-purge",
      "forget",
    ]);
    await run(steps, clock);
    expect(deleted).toEqual(["lab-team-a", "lab-team-a", "lab-team-a"]);
    expect(calls).toEqual([
      "kubeconfig host-ws-rg/host-ws-aks",
      "delete lab-team-a-rg",
      "purge kv-team-a-xxxxx",
    ]);
  });
});

describe("the host grammar", () => {
  it("reads host commands and a lab's host", () => {
    expect(parseCommandText("host create ws --nodes 3 --ttl 8h")).toEqual({
      ok: true,
      command: { kind: "host.create", host: "ws", nodeCount: 3, ttlMs: 8 * 3_600_000 },
    });
    expect(parseCommandText("host status")).toEqual({
      ok: true,
      command: { kind: "host.status", host: undefined },
    });
    expect(parseCommandText("host destroy ws --force")).toEqual({
      ok: true,
      command: { kind: "host.destroy", host: "ws", force: true, confirmed: false },
    });
    expect(parseCommandText("lab create team-a --on ws")).toMatchObject({
      ok: true,
      command: { host: "ws" },
    });
    expect(parseCommandText("lab create team-a --host ws")).toMatchObject({
      ok: true,
      command: { host: "ws" },
    });
    expect(parseCommandText("workshop create ws --teams 10 --ttl 8h")).toEqual({
      ok: true,
      command: { kind: "workshop.create", prefix: "ws", teams: 10, host: undefined, ttlMs: 8 * 3_600_000 },
    });
    expect(parseCommandText("workshop create ws --teams 3 --on shared")).toMatchObject({
      ok: true,
      command: { host: "shared", teams: 3 },
    });
    expect(parseCommandText("workshop destroy ws --yes")).toEqual({
      ok: true,
      command: { kind: "workshop.destroy", prefix: "ws", confirmed: true },
    });
    expect(parseCommandText("lab create team-a")).toEqual({
      ok: true,
      command: { kind: "lab.create", lab: "team-a", ttlMs: undefined },
    });
  });

  it("refuses bad host input with one message", () => {
    for (const [text, pattern] of [
      ["host create ws --nodes 0", /whole number from 1 to 10/],
      ["host create ws --nodes lots", /whole number from 1 to 10/],
      ["host create Ws", /not a valid host name/],
      ["lab create team-a --on Bad_Host", /not a valid host name/],
      ["lab create team-a --on ws --host ws", /same option/],
      ["host reboot ws", /not a command/],
      ["host destroy", /Which host/],
      ["workshop create ws", /How many teams/],
      ["workshop create ws --teams 31", /from 1 to 30/],
      ["workshop create a-very-long-prefix --teams 3", /too long for a workshop prefix/],
      ["workshop create ws --teams 3 --on Bad", /not a valid host name/],
      ["workshop launch ws", /not a command/],
    ] as const) {
      const parsed = parseCommandText(text);
      expect(parsed.ok, text).toBe(false);
      if (!parsed.ok) expect(parsed.rejection.message, text).toMatch(pattern);
    }
  });
});
