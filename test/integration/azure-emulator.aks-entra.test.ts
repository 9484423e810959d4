import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createAzureCredential } from "../../adapters/azure/credential.ts";
import { ArmLabAzure } from "../../adapters/azure/lab-azure.ts";
import { type AzureEmulator, startAzureEmulator } from "../../emulators/azure/index.ts";
import { systemClock } from "../../src/clock.ts";
import { namespaceAccess } from "../../src/labs/namespace-access.ts";
import { clientsFor, labCluster, rejection, roleId } from "./azure-emulator-helpers.ts";

/**
 * A host's Entra integration with Azure RBAC for Kubernetes (aadProfile), and
 * role assignments at a namespace's scope, through the real SDKs and the
 * product's adapter: what ARM accepts, returns and refuses.
 */
describe("Azure emulator: Entra-integrated clusters and namespace-scoped roles", () => {
  let emu: AzureEmulator;
  const RG = "host-ws-rg";
  const USER = "a0000000-0000-4000-8000-00000000000a";
  const kubeconfigUser = (value: Uint8Array | undefined) =>
    (
      parse(Buffer.from(value ?? new Uint8Array()).toString("utf8")) as {
        users: { user: Record<string, unknown> }[];
      }
    ).users[0]?.user ?? {};

  beforeAll(async () => {
    emu = await startAzureEmulator({ timeScale: 100_000 });
    await clientsFor(emu).resources.resourceGroups.createOrUpdate(RG, { location: emu.location });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("takes aadProfile managed with Azure RBAC and returns it with the tenant", async () => {
    const { containerService } = clientsFor(emu);
    const cluster = await containerService.managedClusters
      .createOrUpdate(RG, "host-ws-aks", {
        ...labCluster(emu.location),
        aadProfile: { managed: true, enableAzureRbac: true },
      })
      .pollUntilDone();
    expect(cluster.aadProfile).toMatchObject({
      managed: true,
      enableAzureRbac: true,
      tenantID: emu.tenantId,
    });
    const again = await containerService.managedClusters.get(RG, "host-ws-aks");
    expect(again.aadProfile?.enableAzureRbac).toBe(true);
  });

  it("refuses Azure RBAC without the managed integration, and turning the integration off", async () => {
    const { containerService } = clientsFor(emu);
    const noManaged = await rejection(
      containerService.managedClusters
        .createOrUpdate(RG, "half-aks", {
          ...labCluster(emu.location),
          aadProfile: { enableAzureRbac: true },
        })
        .pollUntilDone(),
    );
    expect(noManaged.statusCode).toBe(400);
    expect(noManaged.message).toMatch(/managed/);
    const off = await rejection(
      containerService.managedClusters
        .createOrUpdate(RG, "host-ws-aks", labCluster(emu.location))
        .pollUntilDone(),
    );
    expect(off.statusCode).toBe(400);
    expect(off.message).toMatch(/cannot be disabled/);
  });

  it("gives a kubelogin user credential on it, a static admin one, and the adapter takes the admin one", async () => {
    const { containerService } = clientsFor(emu);
    const user = await containerService.managedClusters.listClusterUserCredentials(RG, "host-ws-aks");
    const exec = kubeconfigUser(user.kubeconfigs?.[0]?.value).exec as { command?: string; args?: string[] };
    expect(exec.command).toBe("kubelogin");
    expect(exec.args).toContain("6dae42f8-4368-4678-94ff-3960e28e3630");
    const admin = await containerService.managedClusters.listClusterAdminCredentials(RG, "host-ws-aks");
    expect(kubeconfigUser(admin.kubeconfigs?.[0]?.value).token).toEqual(expect.any(String));

    const adapter = new ArmLabAzure({
      clients: clientsFor(emu),
      credential: createAzureCredential({
        tenantId: emu.tenantId,
        clientId: emu.bot.clientId,
        clientSecret: emu.bot.clientSecret,
        authorityHost: emu.authorityHost,
        caPem: emu.caPem,
      }),
      subscriptionId: emu.subscriptionId,
      tenantId: emu.tenantId,
      armEndpoint: emu.armEndpoint,
      clock: systemClock(100_000),
    });
    const own = parse(await adapter.clusterUserKubeconfig(RG, "host-ws-aks", new AbortController().signal));
    expect(own.users[0].name).toMatch(/^clusterAdmin_/);
    // It remembers the cluster is Entra-integrated: the next session asks for the admin credential only.
    const refuse = emu.faults.add({
      method: "POST",
      path: "/listClusterUserCredential$",
      status: 400,
      code: "BadRequest",
      count: 10,
    });
    try {
      const next = parse(
        await adapter.clusterUserKubeconfig(RG, "host-ws-aks", new AbortController().signal),
      );
      expect(next.users[0].name).toMatch(/^clusterAdmin_/);
    } finally {
      emu.faults.remove(refuse);
    }
    expect((await adapter.getCluster(RG, "host-ws-aks", new AbortController().signal))?.entraRbac).toBe(true);
  });

  it("assigns and removes roles at a namespace's scope, idempotently, for a user", async () => {
    const adapter = new ArmLabAzure({
      clients: clientsFor(emu),
      credential: createAzureCredential({
        tenantId: emu.tenantId,
        clientId: emu.bot.clientId,
        clientSecret: emu.bot.clientSecret,
        authorityHost: emu.authorityHost,
        caPem: emu.caPem,
      }),
      subscriptionId: emu.subscriptionId,
      tenantId: emu.tenantId,
      armEndpoint: emu.armEndpoint,
      clock: systemClock(100_000),
    });
    const signal = new AbortController().signal;
    const access = namespaceAccess(emu.subscriptionId, "ws", "team-a", USER);
    const first = await adapter.ensureRoleAssignment(access.namespace, signal);
    expect(first.id.toLowerCase()).toContain("/managedclusters/host-ws-aks/namespaces/lab-team-a/providers/");
    expect((await adapter.ensureRoleAssignment(access.namespace, signal)).id).toBe(first.id);
    await adapter.ensureRoleAssignment(access.cluster, signal);
    const { authorization } = clientsFor(emu);
    const ra = await authorization.roleAssignments.get(access.namespace.scope, first.name);
    expect(ra).toMatchObject({ principalId: USER, principalType: "User" });
    expect(ra.roleDefinitionId).toMatch(/a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb$/);

    expect(await adapter.deleteRoleAssignment(access.namespace, signal)).toBe(true);
    expect(await adapter.deleteRoleAssignment(access.namespace, signal)).toBe(false);
    expect(
      (await rejection(authorization.roleAssignments.get(access.namespace.scope, first.name))).statusCode,
    ).toBe(404);
  });

  it("answers 404 naming the cluster for a namespace of a cluster that does not exist", async () => {
    const { authorization } = clientsFor(emu);
    const missing = namespaceAccess(emu.subscriptionId, "nope", "team-a", USER).namespace;
    await clientsFor(emu).resources.resourceGroups.createOrUpdate("host-nope-rg", { location: emu.location });
    const error = await rejection(
      authorization.roleAssignments.create(missing.scope, "0f0e0d0c-0b0a-4908-8706-050403020100", {
        roleDefinitionId: roleId(emu, missing.roleDefinitionId),
        principalId: USER,
        principalType: "User",
      }),
    );
    expect(error.statusCode).toBe(404);
    expect(error.code).toBe("ResourceNotFound");
    expect(error.message).toContain("'Microsoft.ContainerService/managedClusters/host-nope-aks'");
  });

  it("refuses a principal type the directory contradicts", async () => {
    const { authorization } = clientsFor(emu);
    const scope = namespaceAccess(emu.subscriptionId, "ws", "team-b", USER).namespace.scope;
    const error = await rejection(
      authorization.roleAssignments.create(scope, "1f0e0d0c-0b0a-4908-8706-050403020100", {
        roleDefinitionId: roleId(emu, "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb"),
        principalId: emu.bot.objectId,
        principalType: "User",
      }),
    );
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe("UnmatchedPrincipalType");
  });
});
