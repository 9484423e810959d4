import { ComputeManagementClient } from "@azure/arm-compute";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArmCapacity, createComputeClient } from "../../adapters/azure/compute.ts";
import { createAzureCredential } from "../../adapters/azure/credential.ts";
import { computeFromFlags } from "../../emulators/azure/compute.ts";
import { type AzureEmulator, PAY_AS_YOU_GO_QUOTAS, startAzureEmulator } from "../../emulators/azure/index.ts";
import { systemClock } from "../../src/clock.ts";
import { ExternalError } from "../../src/errors.ts";
import { clientsFor, collect, labCluster, rawRequest, rejection } from "./azure-emulator-helpers.ts";

function computeClient(emu: AzureEmulator): ComputeManagementClient {
  const credential = createAzureCredential({
    tenantId: emu.tenantId,
    clientId: emu.bot.clientId,
    clientSecret: emu.bot.clientSecret,
    authorityHost: emu.authorityHost,
    caPem: emu.caPem,
  });
  return new ComputeManagementClient(credential, emu.subscriptionId, {
    endpoint: emu.armEndpoint,
    tlsOptions: { ca: emu.caPem },
  });
}

describe("Azure emulator: compute usages, VM sizes and AKS quota enforcement (through the real SDKs)", () => {
  let emu: AzureEmulator;
  let compute: ComputeManagementClient;

  beforeAll(async () => {
    emu = await startAzureEmulator({
      timeScale: 100_000,
      compute: { defaults: PAY_AS_YOU_GO_QUOTAS, quotas: { cores: 10, standardBSFamily: 8 } },
    });
    compute = computeClient(emu);
    await clientsFor(emu).resources.resourceGroups.createOrUpdate("quota-rg", { location: emu.location });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  const usage = async (name: string) => {
    const all = await collect(compute.usage.list(emu.location));
    return all.find((u) => u.name.value === name);
  };

  it("lists the location's usages in ListUsagesResult's shape, counting nothing before any cluster", async () => {
    const all = await collect(compute.usage.list("centralus"));
    expect(all.find((u) => u.name.value === "cores")).toEqual({
      unit: "Count",
      currentValue: 0,
      limit: 10,
      name: { value: "cores", localizedValue: "Total Regional vCPUs" },
    });
    expect(all.find((u) => u.name.value === "standardBSFamily")).toMatchObject({
      limit: 8,
      name: { localizedValue: "Standard BS Family vCPUs" },
    });
    // A new pay-as-you-go subscription: GPU families start at 0.
    expect(all.find((u) => u.name.value === "standardNCSv3Family")?.limit).toBe(0);
  });

  it("lists VM sizes with their family, vCPUs and restrictions, filtered by location", async () => {
    const skus = await collect(compute.resourceSkus.list({ filter: "location eq 'centralus'" }));
    const b2s = skus.find((s) => s.name === "Standard_B2s");
    expect(b2s).toMatchObject({
      resourceType: "virtualMachines",
      family: "standardBSFamily",
      locations: ["centralus"],
      restrictions: [],
    });
    expect(b2s?.capabilities?.find((c) => c.name === "vCPUs")?.value).toBe("2");
    expect(b2s?.locationInfo?.[0]?.location).toBe("centralus");
    expect(await collect(compute.resourceSkus.list({ filter: "location eq 'atlantis'" }))).toEqual([]);

    emu.compute.restrictSize("Standard_B2s");
    try {
      const restricted = (
        await collect(compute.resourceSkus.list({ filter: "location eq 'centralus'" }))
      ).find((s) => s.name === "Standard_B2s");
      expect(restricted?.restrictions).toEqual([
        {
          type: "Location",
          values: ["centralus"],
          restrictionInfo: { locations: ["centralus"] },
          reasonCode: "NotAvailableForSubscription",
        },
      ]);
    } finally {
      emu.compute.restrictSize("Standard_B2s", false);
    }
  });

  it("answers 400 for usages of a region Compute does not offer", async () => {
    const error = await rejection(collect(compute.usage.list("atlantis")));
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe("LocationNotAvailableForResourceType");
  });

  it("counts the node pools of the clusters that exist, and refuses a create past the quota as AKS does", async () => {
    const { containerService } = clientsFor(emu);
    // Two clusters of 2 × Standard_B2s: 8 of the 10 regional vCPUs and all 8 of the BS family.
    await Promise.all(
      ["q-one", "q-two"].map((name) =>
        containerService.managedClusters
          .createOrUpdate("quota-rg", name, labCluster(emu.location))
          .pollUntilDone(),
      ),
    );
    expect(await usage("cores")).toMatchObject({ currentValue: 8, limit: 10 });
    expect(await usage("standardBSFamily")).toMatchObject({ currentValue: 8, limit: 8 });
    expect(await usage("virtualMachines")).toMatchObject({ currentValue: 4 });
    expect(emu.compute.inUse(emu.location)).toMatchObject({ cores: 8, standardBSFamily: 8 });

    const before = emu.inventory().resources.length;
    const error = await rejection(
      containerService.managedClusters
        .createOrUpdate("quota-rg", "q-three", labCluster(emu.location))
        .pollUntilDone(),
    );
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe("QuotaExceeded");
    expect(error.message).toContain(
      "Provisioning of resource(s) for container service q-three in resource group quota-rg failed. Message: Operation could not be completed as it results in exceeding approved Total Regional Cores quota. Additional details - Deployment Model: Resource Manager, Location: centralus, Current Limit: 10, Current Usage: 8, Additional Required: 4, (Minimum) New Limit Required: 12.",
    );
    // Nothing of the refused cluster exists: no cluster, no node resource group, no identity.
    expect(emu.inventory().resources.length).toBe(before);

    // With regional room, the family quota is the one that refuses.
    emu.compute.setQuota("cores", 20);
    const family = await rejection(
      containerService.managedClusters
        .createOrUpdate("quota-rg", "q-three", labCluster(emu.location))
        .pollUntilDone(),
    );
    expect(family.message).toContain(
      "exceeding approved standardBSFamily Cores quota. Additional details - Deployment Model: Resource Manager, Location: centralus, Current Limit: 8, Current Usage: 8, Additional Required: 4",
    );
    emu.compute.setQuota("cores", 10);
  });

  it("refuses a scale past the quota with the numbers of the increase, and lets a cluster shrink", async () => {
    const { containerService } = clientsFor(emu);
    const bigger = labCluster(emu.location);
    bigger.agentPoolProfiles[0] = {
      ...bigger.agentPoolProfiles[0],
      count: 4,
    } as (typeof bigger.agentPoolProfiles)[0];
    const error = await rejection(
      containerService.managedClusters.createOrUpdate("quota-rg", "q-one", bigger).pollUntilDone(),
    );
    expect(error.code).toBe("QuotaExceeded");
    expect(error.message).toContain("Current Limit: 10, Current Usage: 8, Additional Required: 4");

    const smaller = labCluster(emu.location);
    smaller.agentPoolProfiles[0] = {
      ...smaller.agentPoolProfiles[0],
      count: 1,
    } as (typeof smaller.agentPoolProfiles)[0];
    await containerService.managedClusters.createOrUpdate("quota-rg", "q-one", smaller).pollUntilDone();
    expect(await usage("cores")).toMatchObject({ currentValue: 6 });
  });

  it("refuses a node pool of a restricted size with AKS's answer, before anything exists", async () => {
    const { containerService } = clientsFor(emu);
    emu.compute.setQuota("cores", 100);
    emu.compute.setQuota("standardBSFamily", 100);
    emu.compute.restrictSize("Standard_B2s");
    try {
      const error = await rejection(
        containerService.managedClusters
          .createOrUpdate("quota-rg", "q-four", labCluster(emu.location))
          .pollUntilDone(),
      );
      expect(error.statusCode).toBe(400);
      expect(error.code).toBe("BadRequest");
      expect(error.message).toMatch(
        /^The VM size of Standard_B2s is not allowed in your subscription in location 'centralus'\. The available VM sizes are '[a-z0-9_,]*standard_ds2_v2[a-z0-9_,]*'\. For more details, please visit https:\/\/aka\.ms\/aks\/quotas-skus-regions$/,
      );
      expect(error.message).not.toMatch(/'[^']*standard_b2s,/);
      expect(emu.inventory().resources.some((r) => r.name === "q-four")).toBe(false);
    } finally {
      emu.compute.restrictSize("Standard_B2s", false);
    }
  });

  it("frees the quota when a cluster is deleted", async () => {
    const { containerService } = clientsFor(emu);
    await containerService.managedClusters.beginDeleteAndWait("quota-rg", "q-two", {
      updateIntervalInMs: 10,
    });
    expect(await usage("cores")).toMatchObject({ currentValue: 2 });
  });

  it("takes quotas and restrictions through its control endpoint", async () => {
    const url = `${emu.armEndpoint}/_emulator/compute`;
    const set = await rawRequest(emu, url, {
      method: "POST",
      body: { quotas: { cores: 12 }, restrict: ["Standard_D2s_v3"] },
    });
    expect(set.status).toBe(200);
    expect(JSON.parse(set.body)).toMatchObject({
      quotas: { cores: 12 },
      restrictedSizes: ["Standard_D2s_v3"],
    });
    const bad = await rawRequest(emu, url, { method: "POST", body: { quotas: { notAQuota: 1 } } });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain("unknown usage name 'notAQuota'");
    await rawRequest(emu, url, { method: "POST", body: { unrestrict: ["Standard_D2s_v3"] } });
    expect(emu.compute.settings().restrictedSizes).toEqual([]);
  });
});

describe("the capacity adapter (ArmCapacity) against the emulator", () => {
  let emu: AzureEmulator;
  let capacity: ArmCapacity;
  const signal = new AbortController().signal;

  beforeAll(async () => {
    emu = await startAzureEmulator({
      timeScale: 100_000,
      compute: { defaults: PAY_AS_YOU_GO_QUOTAS, restrictedSizes: ["Standard_B2ms"] },
    });
    const credential = createAzureCredential({
      tenantId: emu.tenantId,
      clientId: emu.bot.clientId,
      clientSecret: emu.bot.clientSecret,
      authorityHost: emu.authorityHost,
      caPem: emu.caPem,
    });
    const settings = {
      endpoint: emu.armEndpoint,
      credential,
      subscriptionId: emu.subscriptionId,
      caPem: emu.caPem,
    };
    capacity = new ArmCapacity(
      createComputeClient(settings),
      clientsFor(emu).containerService,
      systemClock(),
      {
        timeoutMs: 2_000,
      },
    );
    await clientsFor(emu).resources.resourceGroups.createOrUpdate("cap-rg", { location: emu.location });
    await clientsFor(emu)
      .containerService.managedClusters.createOrUpdate("cap-rg", "cap-aks", labCluster(emu.location))
      .pollUntilDone();
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("reads usages, VM sizes with their restrictions, and the clusters", async () => {
    const usages = await capacity.usages("centralus", signal);
    expect(usages.find((u) => u.name === "cores")).toEqual({
      name: "cores",
      localizedName: "Total Regional vCPUs",
      current: 4,
      limit: 10,
    });
    const sizes = await capacity.vmSizes("centralus", signal);
    expect(sizes.find((s) => s.name === "Standard_B2s")).toEqual({
      name: "Standard_B2s",
      family: "standardBSFamily",
      vCpus: 2,
      restrictions: [],
    });
    expect(sizes.find((s) => s.name === "Standard_B2ms")?.restrictions).toEqual([
      { type: "Location", reasonCode: "NotAvailableForSubscription", zones: [] },
    ]);
    expect(await capacity.vmSizes("atlantis", signal)).toEqual([]);
    expect(await capacity.clusters(signal)).toEqual([
      { name: "cap-aks", resourceGroup: "cap-rg", location: "centralus" },
    ]);
  });

  it("retries a throttled read after its Retry-After, within its budget", async () => {
    emu.faults.add({ method: "GET", path: "/usages$", status: 429, count: 1, retryAfterSeconds: 1 });
    const started = performance.now();
    const usages = await capacity.usages("centralus", signal);
    expect(usages.length).toBeGreaterThan(0);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("gives up at once on a Retry-After longer than its budget, and times out a read that does not answer", async () => {
    emu.faults.add({ method: "GET", path: "/usages$", status: 429, count: 1, retryAfterSeconds: 30 });
    const throttled = await capacity.usages("centralus", signal).catch((e: unknown) => e);
    expect(throttled).toBeInstanceOf(ExternalError);
    expect((throttled as ExternalError).status).toBe(429);

    emu.faults.add({ method: "GET", path: "/skus$", delayMs: 600_000_000, count: 1 });
    const started = performance.now();
    const slow = await capacity.vmSizes("centralus", signal).catch((e: unknown) => e);
    expect((slow as ExternalError).code).toBe("Timeout");
    expect(performance.now() - started).toBeLessThan(3_000);
    emu.faults.clear();
  });
});

describe("compute settings from the command line", () => {
  it("starts from a new pay-as-you-go subscription and takes --quota NAME=N and --restrict-size", () => {
    const settings = computeFromFlags(["cores=10", "standardBSFamily=8"], ["Standard_B2s"]);
    expect(settings.defaults.cores).toBe(10);
    expect(settings.quotas).toEqual({ cores: 10, standardBSFamily: 8 });
    expect(settings.restrictedSizes).toEqual(["Standard_B2s"]);
    expect(() => computeFromFlags(["cores"])).toThrow(/--quota takes NAME=N/);
    expect(() => computeFromFlags(["gpus=4"])).toThrow(/unknown usage name 'gpus'/);
    expect(() => computeFromFlags([], ["Standard_Z9"])).toThrow(/unknown VM size 'Standard_Z9'/);
  });
});
