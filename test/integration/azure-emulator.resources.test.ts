import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzureEmulator, RESOURCE_TYPES, startAzureEmulator } from "../../emulators/azure/index.ts";
import { manualClock } from "../../emulators/shared/clock.ts";
import {
  clientsFor,
  collect,
  labCluster,
  rawRequest,
  rejection,
  until,
  vaultParams,
} from "./azure-emulator-helpers.ts";

describe("Azure emulator: resource groups, inventory, faults", () => {
  let emu: AzureEmulator;

  beforeAll(async () => {
    emu = await startAzureEmulator({ timeScale: 100_000 });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("creates, reads, checks, lists and updates a resource group", async () => {
    const { resources } = clientsFor(emu);
    const created = await resources.resourceGroups.createOrUpdate("lab-rg-basic", {
      location: "Central US",
      tags: { owner: "alice", channel: "C1" },
    });
    expect(created.id).toBe(`/subscriptions/${emu.subscriptionId}/resourceGroups/lab-rg-basic`);
    expect(created.location).toBe("centralus");
    expect(created.properties?.provisioningState).toBe("Succeeded");

    const again = await resources.resourceGroups.createOrUpdate("lab-rg-basic", {
      location: "centralus",
      tags: { owner: "bob" },
    });
    expect(again.tags).toEqual({ owner: "bob" });

    expect((await resources.resourceGroups.checkExistence("lab-rg-basic")).body).toBe(true);
    expect((await resources.resourceGroups.checkExistence("no-such-rg")).body).toBe(false);
    const names = (await collect(resources.resourceGroups.list())).map((g) => g.name);
    expect(names).toContain("lab-rg-basic");
    const fetched = await resources.resourceGroups.get("LAB-RG-BASIC");
    expect(fetched.name).toBe("lab-rg-basic");
  });

  it("answers ResourceGroupNotFound and InvalidResourceGroup in ARM's error shape", async () => {
    const { resources, keyVault } = clientsFor(emu);
    const missing = await rejection(resources.resourceGroups.get("absent-rg"));
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe("ResourceGroupNotFound");

    const inVault = await rejection(keyVault.vaults.get("absent-rg", "kv-whatever"));
    expect(inVault.code).toBe("ResourceGroupNotFound");

    const invalid = await rejection(
      resources.resourceGroups.createOrUpdate("bad name!", { location: "centralus" }),
    );
    expect(invalid.statusCode).toBe(400);
    expect(invalid.code).toBe("InvalidResourceGroup");
    expect(invalid.message).toContain("invalid characters");

    const location = await rejection(
      resources.resourceGroups.createOrUpdate("lab-rg-basic", { location: "westeurope" }),
    );
    expect(location.code).toBe("InvalidResourceGroupLocation");
  });

  it("deletes a resource group as a long-running operation that removes what it holds", async () => {
    const clients = clientsFor(emu);
    const before = emu.inventory().counts;
    await clients.resources.resourceGroups.createOrUpdate("lab-rg-doomed", { location: emu.location });
    await clients.msi.userAssignedIdentities.createOrUpdate("lab-rg-doomed", "doomed-mi", {
      location: emu.location,
    });
    await clients.keyVault.vaults.createOrUpdate("lab-rg-doomed", "kv-doomed-a1b2c", vaultParams(emu));
    await clients.containerService.managedClusters.createOrUpdate(
      "lab-rg-doomed",
      "doomed-aks",
      labCluster(emu.location),
    );
    expect(emu.inventory().resources.some((r) => r.name === "MC_lab-rg-doomed_doomed-aks_centralus")).toBe(
      true,
    );

    await clients.resources.resourceGroups.delete("lab-rg-doomed").pollUntilDone();

    expect((await clients.resources.resourceGroups.checkExistence("lab-rg-doomed")).body).toBe(false);
    const inv = emu.inventory();
    expect(inv.resources.filter((r) => r.id.toLowerCase().includes("lab-rg-doomed"))).toEqual([]);
    // The vault went into soft delete with its group; its name stays taken until purged.
    expect(inv.deletedVaults.map((v) => v.name)).toContain("kv-doomed-a1b2c");
    const delta = (type: string, kind: "created" | "deleted") =>
      (inv.counts[type]?.[kind] ?? 0) - (before[type]?.[kind] ?? 0);
    expect(delta(RESOURCE_TYPES.resourceGroup, "created")).toBe(2); // the group and the cluster's node group
    expect(delta(RESOURCE_TYPES.resourceGroup, "deleted")).toBe(2);
    expect(delta(RESOURCE_TYPES.managedCluster, "deleted")).toBe(1);
    // doomed-mi plus the kubelet and addon identities in the node resource group
    expect(delta(RESOURCE_TYPES.identity, "created")).toBe(3);
    expect(delta(RESOURCE_TYPES.identity, "deleted")).toBe(3);
    expect(delta(RESOURCE_TYPES.vault, "deleted")).toBe(1);

    const missing = await rejection(clients.resources.resourceGroups.delete("lab-rg-doomed").pollUntilDone());
    expect(missing.code).toBe("ResourceGroupNotFound");
  });

  it("serves the inventory over HTTP, the same as in process", async () => {
    const res = await rawRequest(emu, `${emu.armEndpoint}/_emulator/inventory`);
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { counts: Record<string, unknown>; resources: { name: string }[] };
    expect(body.counts).toEqual(emu.inventory().counts);
    expect(body.resources.map((r) => r.name)).toContain("lab-rg-basic");
  });

  it("refuses ARM writes from a principal without a control-plane role", async () => {
    const { resources } = clientsFor(emu, emu.operator);
    const denied = await rejection(
      resources.resourceGroups.createOrUpdate("operator-rg", { location: "centralus" }),
    );
    expect(denied.statusCode).toBe(403);
    expect(denied.code).toBe("AuthorizationFailed");
    expect(denied.message).toContain(emu.operator.objectId);
  });
});

describe("Azure emulator: resource group delete on a manual clock", () => {
  it("shows Deleting and refuses new resources inside until the operation completes", async () => {
    const clock = manualClock();
    const emu = await startAzureEmulator({ clock, responseDelays: false });
    try {
      const { resources, msi } = clientsFor(emu);
      await resources.resourceGroups.createOrUpdate("lab-rg-slow", { location: emu.location });
      const poller = resources.resourceGroups.delete("lab-rg-slow");
      await poller.submitted();
      expect((await resources.resourceGroups.get("lab-rg-slow")).properties?.provisioningState).toBe(
        "Deleting",
      );
      const refused = await rejection(
        msi.userAssignedIdentities.createOrUpdate("lab-rg-slow", "late-mi", { location: emu.location }),
      );
      expect(refused.statusCode).toBe(409);
      expect(refused.code).toBe("ResourceGroupBeingDeleted");
      await clock.advance(emu.latency.resourceGroupDelete - 1);
      expect((await resources.resourceGroups.checkExistence("lab-rg-slow")).body).toBe(true);
      await clock.advance(1);
      await poller.pollUntilDone();
      expect((await resources.resourceGroups.checkExistence("lab-rg-slow")).body).toBe(false);
    } finally {
      await emu.stop();
    }
  });
});

describe("Azure emulator: ARM throttling on a manual clock", () => {
  it("answers 429 with Retry-After when the read bucket runs dry, and the SDK retries through it", async () => {
    const clock = manualClock();
    // Nothing refills while the manual clock stands still, so exactly the reads beyond capacity are throttled.
    const emu = await startAzureEmulator({
      clock,
      responseDelays: false,
      throttling: { armReads: { capacity: 5, refillPerSecond: 25 } },
    });
    try {
      const { resources: once } = clientsFor(emu, emu.bot, { maxRetries: 0 });
      const { resources } = clientsFor(emu);
      await once.resourceGroups.createOrUpdate("lab-rg-busy", { location: emu.location }); // a write: other bucket
      await resources.resourceGroups.get("lab-rg-busy"); // read 1 (and the retrying client has its token)
      for (let i = 2; i <= 5; i++) await once.resourceGroups.get("lab-rg-busy");
      const refused = await rejection(once.resourceGroups.get("lab-rg-busy"));
      expect(refused.statusCode).toBe(429);
      expect(refused.code).toBe("SubscriptionRequestsThrottled");
      expect(refused.message).toContain("Please try again after '1' seconds");
      expect(refused.response?.headers.get("retry-after")).toBe("1");

      const burst = Promise.all(Array.from({ length: 3 }, () => resources.resourceGroups.get("lab-rg-busy")));
      await until(() => emu.stats().throttled === 4);
      // The throttled reads wait their Retry-After (one second); the bucket refills as emulated time passes.
      await clock.advance(1000);
      const groups = await burst;
      expect(groups.map((g) => g.name)).toEqual(["lab-rg-busy", "lab-rg-busy", "lab-rg-busy"]);
      expect(emu.stats().throttled).toBe(4);
    } finally {
      await emu.stop();
    }
  });
});

describe("Azure emulator: the fault plan", () => {
  let emu: AzureEmulator;

  beforeAll(async () => {
    emu = await startAzureEmulator({
      timeScale: 50,
    });
    await clientsFor(emu).resources.resourceGroups.createOrUpdate("lab-rg-faults", {
      location: emu.location,
    });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("fails the next N matching calls with the planned status and Retry-After", async () => {
    const { resources } = clientsFor(emu);
    const injectedBefore = emu.stats().faultsInjected;
    emu.faults.add({
      method: "GET",
      path: "/resourceGroups/lab-rg-faults$",
      status: 429,
      retryAfterSeconds: 1,
      count: 2,
    });
    const group = await resources.resourceGroups.get("lab-rg-faults");
    expect(group.name).toBe("lab-rg-faults");
    expect(emu.stats().faultsInjected - injectedBefore).toBe(2);
    expect(emu.faults.list()).toEqual([]);
  });

  it("leaves a 429 without Retry-After to the caller, as the SDK does not retry it", async () => {
    const { resources } = clientsFor(emu);
    emu.faults.add({ method: "GET", path: "/resourceGroups/lab-rg-faults$", status: 429, count: 1 });
    const error = await rejection(resources.resourceGroups.get("lab-rg-faults"));
    expect(error.statusCode).toBe(429);
    expect(error.code).toBe("TooManyRequests");
    expect((await resources.resourceGroups.get("lab-rg-faults")).name).toBe("lab-rg-faults");
  });

  it("takes fault rules over HTTP and answers with the given code", async () => {
    const { resources } = clientsFor(emu, emu.bot, { maxRetries: 0 });
    const added = await rawRequest(emu, `${emu.armEndpoint}/_emulator/faults`, {
      method: "POST",
      body: { method: "PUT", path: "/resourceGroups/lab-rg-http$", status: 409, code: "Conflict", count: 1 },
    });
    expect(added.status).toBe(201);
    const listed = JSON.parse((await rawRequest(emu, `${emu.armEndpoint}/_emulator/faults`)).body) as {
      value: unknown[];
    };
    expect(listed.value).toHaveLength(1);
    const error = await rejection(
      resources.resourceGroups.createOrUpdate("lab-rg-http", { location: emu.location }),
    );
    expect(error.statusCode).toBe(409);
    expect(error.code).toBe("Conflict");
    const group = await resources.resourceGroups.createOrUpdate("lab-rg-http", { location: emu.location });
    expect(group.name).toBe("lab-rg-http");

    const rejected = await rawRequest(emu, `${emu.armEndpoint}/_emulator/faults`, {
      method: "POST",
      body: { status: 500 },
    });
    expect(rejected.status).toBe(400);
  });

  it("delays matching calls without failing them when the rule has only a delay", async () => {
    const { resources } = clientsFor(emu);
    const id = emu.faults.add({
      method: "GET",
      path: "/resourceGroups/lab-rg-faults$",
      delayMs: 10,
      count: 1,
    });
    expect(emu.faults.list().map((f) => f.id)).toEqual([id]);
    const injectedBefore = emu.stats().faultsInjected;
    expect((await resources.resourceGroups.get("lab-rg-faults")).name).toBe("lab-rg-faults");
    expect(emu.faults.list()).toEqual([]);
    expect(emu.stats().faultsInjected).toBe(injectedBefore);
  });

  it("fails calls at random in chaos mode, reproducibly for a seed, until turned off", async () => {
    const { resources } = clientsFor(emu, emu.bot, { maxRetries: 0 });
    emu.faults.setChaos({ rate: 1, seed: 7, statuses: [500] });
    const error = await rejection(resources.resourceGroups.get("lab-rg-faults"));
    expect(error.statusCode).toBe(500);
    emu.faults.setChaos(null);
    expect((await resources.resourceGroups.get("lab-rg-faults")).name).toBe("lab-rg-faults");
  });
});
