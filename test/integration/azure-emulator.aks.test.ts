import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type AzureEmulator, startAzureEmulator } from "../../emulators/azure/index.ts";
import { manualClock } from "../../emulators/shared/clock.ts";
import type { ClusterEvent } from "../../emulators/shared/world.ts";
import { clientsFor, collect, labCluster, rawRequest, rejection } from "./azure-emulator-helpers.ts";

interface Kubeconfig {
  clusters: { name: string; cluster: { server: string; "certificate-authority-data": string } }[];
  users: { name: string; user: { token: string } }[];
  "current-context": string;
}

function decodeKubeconfig(value: Uint8Array | undefined): Kubeconfig {
  return parse(Buffer.from(value ?? new Uint8Array()).toString("utf8")) as Kubeconfig;
}

describe("Azure emulator: managed clusters", () => {
  let emu: AzureEmulator;
  const events: ClusterEvent[] = [];

  beforeAll(async () => {
    emu = await startAzureEmulator({ timeScale: 100_000 });
    emu.world.onClusterEvent((e) => events.push(e));
    await clientsFor(emu).resources.resourceGroups.createOrUpdate("lab-aks-rg", { location: emu.location });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("creates a cluster through the LRO and echoes what was asked", async () => {
    const { containerService } = clientsFor(emu);
    const cluster = await containerService.managedClusters
      .createOrUpdate("lab-aks-rg", "lab-aks", labCluster(emu.location))
      .pollUntilDone();
    expect(cluster.provisioningState).toBe("Succeeded");
    expect(cluster.sku).toEqual({ name: "Base", tier: "Free" });
    expect(cluster.identity?.type).toBe("SystemAssigned");
    expect(cluster.identity?.principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(cluster.agentPoolProfiles?.[0]).toMatchObject({
      name: "system",
      count: 2,
      vmSize: "Standard_B2s",
      mode: "System",
    });
    expect(cluster.securityProfile?.workloadIdentity?.enabled).toBe(true);
    expect(cluster.oidcIssuerProfile?.enabled).toBe(true);
    expect(cluster.oidcIssuerProfile?.issuerURL).toMatch(
      new RegExp(`^${emu.armEndpoint}/oidc/${emu.tenantId}/[0-9a-f-]{36}/$`),
    );
    expect(cluster.nodeResourceGroup).toBe("MC_lab-aks-rg_lab-aks_centralus");
    const addon = cluster.addonProfiles?.azureKeyvaultSecretsProvider;
    expect(addon?.enabled).toBe(true);
    expect(addon?.config).toEqual({ enableSecretRotation: "true", rotationPollInterval: "1m" });
    expect(addon?.identity?.resourceId).toContain(
      "/resourcegroups/MC_lab-aks-rg_lab-aks_centralus/providers/Microsoft.ManagedIdentity/userAssignedIdentities/azurekeyvaultsecretsprovider-lab-aks",
    );
    expect(addon?.identity?.clientId).toMatch(/^[0-9a-f-]{36}$/);

    const [info] = emu.world.clusters();
    expect(info).toMatchObject({
      name: "lab-aks",
      resourceGroup: "lab-aks-rg",
      oidcIssuerEnabled: true,
      oidcIssuerUrl: cluster.oidcIssuerProfile?.issuerURL,
      workloadIdentityEnabled: true,
      nodeCount: 2,
      nodeResourceGroup: "MC_lab-aks-rg_lab-aks_centralus",
      keyVaultAddon: {
        enabled: true,
        enableSecretRotation: true,
        rotationPollInterval: "1m",
        identityClientId: addon?.identity?.clientId,
      },
    });
    expect(events.map((e) => e.type)).toEqual(["created"]);
  });

  it("gives every cluster its own OIDC issuer and serves its discovery document and keys", async () => {
    const { containerService } = clientsFor(emu);
    const other = await containerService.managedClusters.createOrUpdate(
      "lab-aks-rg",
      "lab-aks-2",
      labCluster(emu.location),
    );
    const first = await containerService.managedClusters.get("lab-aks-rg", "lab-aks");
    const issuer = other.oidcIssuerProfile?.issuerURL ?? "";
    expect(issuer).not.toBe(first.oidcIssuerProfile?.issuerURL);

    const discovery = await rawRequest(emu, `${issuer}.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    const doc = JSON.parse(discovery.body) as { issuer: string; jwks_uri: string };
    expect(doc.issuer).toBe(issuer);
    const jwks = JSON.parse((await rawRequest(emu, doc.jwks_uri)).body) as {
      keys: { kty: string; kid: string }[];
    };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]?.kty).toBe("RSA");

    const names = (await collect(containerService.managedClusters.listByResourceGroup("lab-aks-rg"))).map(
      (c) => c.name,
    );
    expect(names.sort()).toEqual(["lab-aks", "lab-aks-2"]);
  });

  it("updates the addon configuration through an LRO and tells the Kubernetes side", async () => {
    const { containerService } = clientsFor(emu);
    const current = await containerService.managedClusters.get("lab-aks-rg", "lab-aks");
    const updated = await containerService.managedClusters.createOrUpdate("lab-aks-rg", "lab-aks", {
      ...labCluster(emu.location),
      addonProfiles: {
        azureKeyvaultSecretsProvider: {
          enabled: true,
          config: { enableSecretRotation: "true", rotationPollInterval: "2m" },
        },
      },
    });
    expect(updated.provisioningState).toBe("Succeeded");
    expect(updated.addonProfiles?.azureKeyvaultSecretsProvider?.config?.rotationPollInterval).toBe("2m");
    expect(updated.oidcIssuerProfile?.issuerURL).toBe(current.oidcIssuerProfile?.issuerURL);
    const last = events.at(-1);
    expect(last?.type).toBe("updated");
    expect(last?.cluster.keyVaultAddon?.rotationPollInterval).toBe("2m");
  });

  it("refuses workload identity without the OIDC issuer", async () => {
    const { containerService } = clientsFor(emu);
    const error = await rejection(
      containerService.managedClusters
        .createOrUpdate("lab-aks-rg", "lab-aks-bad", {
          ...labCluster(emu.location),
          oidcIssuerProfile: { enabled: false },
        })
        .pollUntilDone(),
    );
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe("InvalidParameter");
  });

  it("returns a user kubeconfig from the Kubernetes endpoint provider, or a valid one without it", async () => {
    const { containerService } = clientsFor(emu);
    const plain = await containerService.managedClusters.listClusterUserCredentials("lab-aks-rg", "lab-aks");
    expect(plain.kubeconfigs?.[0]?.name).toBe("clusterUser");
    const fallback = decodeKubeconfig(plain.kubeconfigs?.[0]?.value);
    expect(fallback["current-context"]).toBe("lab-aks");
    expect(fallback.clusters[0]?.cluster.server).toMatch(/^https:\/\/.+\.hcp\.centralus\.azmk8s\.io:443$/);

    const seen: string[] = [];
    emu.world.setKubernetesEndpointProvider((cluster) => {
      seen.push(cluster.name);
      return {
        server: "https://127.0.0.1:6443",
        caPem: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n",
        token: "kube-token",
      };
    });
    const served = await containerService.managedClusters.listClusterUserCredentials("lab-aks-rg", "lab-aks");
    const config = decodeKubeconfig(served.kubeconfigs?.[0]?.value);
    expect(seen).toEqual(["lab-aks"]);
    expect(config.clusters[0]?.cluster.server).toBe("https://127.0.0.1:6443");
    expect(
      Buffer.from(config.clusters[0]?.cluster["certificate-authority-data"] ?? "", "base64").toString(),
    ).toContain("BEGIN CERTIFICATE");
    expect(config.users[0]?.user.token).toBe("kube-token");

    const missing = await rejection(
      containerService.managedClusters.listClusterUserCredentials("lab-aks-rg", "nope"),
    );
    expect(missing.code).toBe("ResourceNotFound");
  });

  it("deletes a cluster through the LRO, with its node resource group", async () => {
    const { containerService, resources } = clientsFor(emu);
    await containerService.managedClusters.delete("lab-aks-rg", "lab-aks-2").pollUntilDone();
    const gone = await rejection(containerService.managedClusters.get("lab-aks-rg", "lab-aks-2"));
    expect(gone.statusCode).toBe(404);
    expect((await resources.resourceGroups.checkExistence("MC_lab-aks-rg_lab-aks-2_centralus")).body).toBe(
      false,
    );
    expect(emu.world.clusters().map((c) => c.name)).toEqual(["lab-aks"]);
    expect(events.at(-1)).toMatchObject({ type: "deleted", cluster: { name: "lab-aks-2" } });
  });
});

describe("Azure emulator: cluster operations on a manual clock", () => {
  it("answers 409 while an operation runs and completes only when emulated time has passed", async () => {
    const clock = manualClock();
    const emu = await startAzureEmulator({ clock, responseDelays: false });
    try {
      const { containerService, resources } = clientsFor(emu);
      await resources.resourceGroups.createOrUpdate("lab-clock-rg", { location: emu.location });
      const create = containerService.managedClusters.createOrUpdate(
        "lab-clock-rg",
        "lab-clock",
        labCluster(emu.location),
      );
      await create.submitted();
      expect(emu.world.clusters()).toEqual([]);

      const conflict = await rejection(
        containerService.managedClusters
          .createOrUpdate("lab-clock-rg", "lab-clock", labCluster(emu.location))
          .pollUntilDone(),
      );
      expect(conflict.statusCode).toBe(409);
      expect(conflict.code).toBe("OperationNotAllowed");
      const deleteConflict = await rejection(
        containerService.managedClusters.delete("lab-clock-rg", "lab-clock").pollUntilDone(),
      );
      expect(deleteConflict.code).toBe("OperationNotAllowed");

      await clock.advance(emu.latency.managedClusterCreate - 1);
      expect(
        (await containerService.managedClusters.get("lab-clock-rg", "lab-clock")).provisioningState,
      ).toBe("Creating");
      await clock.advance(1);
      const done = await create.pollUntilDone();
      expect(done.provisioningState).toBe("Succeeded");

      const update = containerService.managedClusters.createOrUpdate("lab-clock-rg", "lab-clock", {
        ...labCluster(emu.location),
        tags: { owner: "bob" },
      });
      await update.submitted();
      expect(
        (await containerService.managedClusters.get("lab-clock-rg", "lab-clock")).provisioningState,
      ).toBe("Updating");
      await clock.advance(emu.latency.managedClusterUpdate);
      expect((await update.pollUntilDone()).tags).toEqual({ owner: "bob" });

      const removal = containerService.managedClusters.delete("lab-clock-rg", "lab-clock");
      await removal.submitted();
      expect(
        (await containerService.managedClusters.get("lab-clock-rg", "lab-clock")).provisioningState,
      ).toBe("Deleting");
      await clock.advance(emu.latency.managedClusterDelete);
      await removal.pollUntilDone();
      expect(emu.world.clusters()).toEqual([]);
    } finally {
      await emu.stop();
    }
  });
});
