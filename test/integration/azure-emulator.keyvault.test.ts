import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAzureClients } from "../../adapters/azure/clients.ts";
import { createAzureCredential } from "../../adapters/azure/credential.ts";
import {
  type AzureEmulator,
  KEY_VAULT_SECRETS_OFFICER,
  KEY_VAULT_SECRETS_USER,
  RESOURCE_TYPES,
  type RequestLogEntry,
  startAzureEmulator,
} from "../../emulators/azure/index.ts";
import { manualClock } from "../../emulators/shared/clock.ts";
import {
  clientsFor,
  collect,
  labCluster,
  rawRequest,
  rejection,
  roleId,
  vaultParams,
} from "./azure-emulator-helpers.ts";

const CANARY = "canary-Zq9-never-logged";

describe("Azure emulator: Key Vault management", () => {
  let emu: AzureEmulator;

  beforeAll(async () => {
    emu = await startAzureEmulator({ timeScale: 100_000 });
    const { resources } = clientsFor(emu);
    await resources.resourceGroups.createOrUpdate("lab-kv-rg", { location: emu.location });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("creates a vault that polls to Succeeded with its own origin, tenantId and sku", async () => {
    const { keyVault } = clientsFor(emu);
    const vault = await keyVault.vaults.createOrUpdate("lab-kv-rg", "kv-lab-main1", vaultParams(emu));
    expect(vault.properties.provisioningState).toBe("Succeeded");
    expect(vault.properties.tenantId).toBe(emu.tenantId);
    expect(vault.properties.sku).toEqual({ family: "A", name: "standard" });
    expect(vault.properties.enableRbacAuthorization).toBe(true);
    expect(vault.properties.enableSoftDelete).toBe(true);
    const uri = vault.properties.vaultUri ?? "";
    expect(uri).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    expect(new URL(uri).port).not.toBe(new URL(emu.armEndpoint).port);
    expect(emu.world.vaultUri("KV-LAB-MAIN1")).toBe(uri);

    const other = await keyVault.vaults.createOrUpdate("lab-kv-rg", "kv-lab-main2", vaultParams(emu));
    expect(other.properties.vaultUri).not.toBe(uri);
    const listed = (await collect(keyVault.vaults.listByResourceGroup("lab-kv-rg"))).map((v) => v.name);
    expect(listed.sort()).toEqual(["kv-lab-main1", "kv-lab-main2"]);
  });

  it("defaults to Azure RBAC from API version 2026-02-01 on when the request leaves it out", async () => {
    const { keyVault } = clientsFor(emu);
    const vault = await keyVault.vaults.createOrUpdate("lab-kv-rg", "kv-lab-default", {
      location: emu.location,
      properties: { tenantId: emu.tenantId, sku: { family: "A", name: "standard" } },
    });
    expect(vault.properties.enableRbacAuthorization).toBe(true);
  });

  it.each([
    ["kv", "too short"],
    ["kv-this-name-is-far-too-long", "25 characters"],
    ["1kv-lab", "starts with a digit"],
    ["kv--lab", "consecutive hyphens"],
    ["kv-lab-", "ends with a hyphen"],
    ["kv_lab", "underscore"],
  ])("refuses the vault name %s (%s)", async (name) => {
    const { keyVault } = clientsFor(emu);
    const error = await rejection(
      keyVault.vaults.createOrUpdate("lab-kv-rg", name, vaultParams(emu)).pollUntilDone(),
    );
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe("VaultNameNotValid");
    const check = await keyVault.vaults.checkNameAvailability({ name, type: "Microsoft.KeyVault/vaults" });
    expect(check).toMatchObject({ nameAvailable: false, reason: "AccountNameInvalid" });
  });

  it("keeps vault names unique across subscriptions, live or soft-deleted", async () => {
    const mine = clientsFor(emu);
    await mine.keyVault.vaults.createOrUpdate("lab-kv-rg", "kv-global-x1", vaultParams(emu));

    const neighbour = createAzureClients({
      endpoint: emu.armEndpoint,
      credential: createAzureCredential({
        tenantId: emu.tenantId,
        clientId: emu.bot.clientId,
        clientSecret: emu.bot.clientSecret,
        authorityHost: emu.authorityHost,
        caPem: emu.caPem,
      }),
      subscriptionId: emu.secondarySubscriptionId,
      caPem: emu.caPem,
    });
    await neighbour.resources.resourceGroups.createOrUpdate("other-rg", { location: emu.location });
    const live = await rejection(
      neighbour.keyVault.vaults.createOrUpdate("other-rg", "kv-global-x1", vaultParams(emu)).pollUntilDone(),
    );
    expect(live.statusCode).toBe(409);
    expect(live.code).toBe("VaultAlreadyExists");
    expect(
      await neighbour.keyVault.vaults.checkNameAvailability({
        name: "kv-global-x1",
        type: "Microsoft.KeyVault/vaults",
      }),
    ).toMatchObject({
      nameAvailable: false,
      reason: "AlreadyExists",
    });

    await mine.keyVault.vaults.delete("lab-kv-rg", "kv-global-x1");
    const deleted = await rejection(
      neighbour.keyVault.vaults.createOrUpdate("other-rg", "kv-global-x1", vaultParams(emu)).pollUntilDone(),
    );
    expect(deleted.code).toBe("VaultAlreadyExists");
    const sameSubscription = await rejection(
      mine.keyVault.vaults.createOrUpdate("lab-kv-rg", "kv-global-x1", vaultParams(emu)).pollUntilDone(),
    );
    expect(sameSubscription.statusCode).toBe(409);
    expect(sameSubscription.code).toBe("ConflictError");
    expect(sameSubscription.message).toContain("deleted state");
  });

  it("soft-deletes, lists deleted, purges through the LRO, and frees the name", async () => {
    const { keyVault } = clientsFor(emu);
    const before = emu.inventory().counts[RESOURCE_TYPES.deletedVault]?.deleted ?? 0;
    const purgeUri =
      (await keyVault.vaults.createOrUpdate("lab-kv-rg", "kv-purge-me1", vaultParams(emu))).properties
        .vaultUri ?? "";
    await keyVault.vaults.delete("lab-kv-rg", "kv-purge-me1");
    const gone = await rejection(keyVault.vaults.get("lab-kv-rg", "kv-purge-me1"));
    expect(gone.code).toBe("ResourceNotFound");
    expect(emu.world.vaultUri("kv-purge-me1")).toBeUndefined();
    // Like a vault name that no longer resolves, the deleted vault's origin takes no connections.
    await expect(
      rawRequest(
        emu,
        `${emu.armEndpoint.replace(/:\d+$/, "")}:${new URL(purgeUri).port}/secrets?api-version=2026-04-01`,
      ),
    ).rejects.toThrow();

    const deleted = (await collect(keyVault.vaults.listDeleted())).find((d) => d.name === "kv-purge-me1");
    expect(deleted?.properties?.vaultId).toBe(
      `/subscriptions/${emu.subscriptionId}/resourceGroups/lab-kv-rg/providers/Microsoft.KeyVault/vaults/kv-purge-me1`,
    );
    expect(deleted?.properties?.location).toBe("centralus");
    const one = await keyVault.vaults.getDeleted("kv-purge-me1", "centralus");
    expect(one.properties?.scheduledPurgeDate).toBeInstanceOf(Date);

    await keyVault.vaults.purgeDeleted("kv-purge-me1", "centralus").pollUntilDone();
    expect((await collect(keyVault.vaults.listDeleted())).map((d) => d.name)).not.toContain("kv-purge-me1");
    expect(emu.inventory().counts[RESOURCE_TYPES.deletedVault]?.deleted).toBe(before + 1);
    const reborn = await keyVault.vaults.createOrUpdate("lab-kv-rg", "kv-purge-me1", vaultParams(emu));
    expect(reborn.properties.provisioningState).toBe("Succeeded");
    expect(reborn.properties.vaultUri).toBe(purgeUri);

    const missing = await rejection(
      keyVault.vaults.purgeDeleted("kv-never-was", "centralus").pollUntilDone(),
    );
    expect(missing.statusCode).toBe(404);
  });

  it("recovers a soft-deleted vault with createMode recover, secrets included", async () => {
    const clients = clientsFor(emu);
    const vault = await clients.keyVault.vaults.createOrUpdate("lab-kv-rg", "kv-recover-1", vaultParams(emu));
    await emu.writeSecretAsOperator("kv-recover-1", "color", "green");
    await clients.keyVault.vaults.delete("lab-kv-rg", "kv-recover-1");
    const recovered = await clients.keyVault.vaults
      .createOrUpdate("lab-kv-rg", "kv-recover-1", vaultParams(emu, { createMode: "recover" }))
      .pollUntilDone();
    expect(recovered.properties.vaultUri).toBe(vault.properties.vaultUri);
    const operatorSecrets = clientsFor(emu, emu.operator).secrets(recovered.properties.vaultUri ?? "");
    expect((await operatorSecrets.getSecret("color")).value).toBe("green");
  });
});

describe("Azure emulator: Key Vault data plane", () => {
  let emu: AzureEmulator;
  let vaultUri: string;
  const log: RequestLogEntry[] = [];

  beforeAll(async () => {
    emu = await startAzureEmulator({ timeScale: 100_000, log: (e) => log.push(e) });
    const { resources, keyVault } = clientsFor(emu);
    await resources.resourceGroups.createOrUpdate("lab-data-rg", { location: emu.location });
    const vault = await keyVault.vaults.createOrUpdate("lab-data-rg", "kv-data-1", vaultParams(emu));
    vaultUri = vault.properties.vaultUri ?? "";
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("challenges the first, token-less request exactly as the Key Vault client expects", async () => {
    const probe = await rawRequest(emu, `${vaultUri}secrets/color?api-version=2026-04-01`);
    expect(probe.status).toBe(401);
    expect(probe.headers["www-authenticate"]).toBe(
      `Bearer authorization="${emu.authorityHost}/${emu.tenantId}", resource="https://vault.azure.net"`,
    );
    expect(JSON.parse(probe.body)).toEqual({
      error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." },
    });

    const secrets = clientsFor(emu, emu.operator).secrets(vaultUri);
    const start = log.length;
    await secrets.setSecret("challenge-probe", "x");
    const vaultCalls = log.slice(start).filter((e) => e.listener === "vault");
    expect(vaultCalls.map((e) => e.status)).toEqual([401, 200]);
  });

  it("sets versions, gets latest and by version, lists versions and secrets, with full-URL ids", async () => {
    const secrets = clientsFor(emu, emu.operator).secrets(vaultUri);
    const v1 = await secrets.setSecret("color", "blue", { contentType: "text/plain", tags: { lab: "a" } });
    const v2 = await secrets.setSecret("color", "orange");
    expect(v1.properties.version).not.toBe(v2.properties.version);
    expect(v2.properties.id).toBe(`${vaultUri}secrets/color/${v2.properties.version}`);
    expect(v2.properties.vaultUrl).toBe(vaultUri.replace(/\/$/, ""));

    const latest = await secrets.getSecret("color");
    expect(latest.value).toBe("orange");
    expect(latest.properties.version).toBe(v2.properties.version);
    const first = await secrets.getSecret("color", { version: v1.properties.version ?? "" });
    expect(first.value).toBe("blue");
    expect(first.properties.contentType).toBe("text/plain");
    expect(first.properties.tags).toEqual({ lab: "a" });

    const versions = await collect(secrets.listPropertiesOfSecretVersions("color"));
    expect(versions.map((v) => v.version).sort()).toEqual(
      [v1.properties.version, v2.properties.version].sort(),
    );
    const names = (await collect(secrets.listPropertiesOfSecrets())).map((s) => s.name);
    expect(names).toContain("color");

    const missing = await rejection(secrets.getSecret("no-such-secret"));
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe("SecretNotFound");
  });

  it("soft-deletes, shows, recovers, and purges a secret", async () => {
    const secrets = clientsFor(emu, emu.operator).secrets(vaultUri);
    await secrets.setSecret("to-delete", "v");
    const deletion = await secrets.beginDeleteSecret("to-delete", { intervalInMs: 10 });
    const deleted = await deletion.pollUntilDone();
    expect(deleted.recoveryId).toBe(`${vaultUri}deletedsecrets/to-delete`);
    expect(deleted.properties.deletedOn).toBeInstanceOf(Date);
    expect((await rejection(secrets.getSecret("to-delete"))).statusCode).toBe(404);
    const reuse = await rejection(secrets.setSecret("to-delete", "again"));
    expect(reuse.statusCode).toBe(409);
    expect((await collect(secrets.listDeletedSecrets())).map((s) => s.name)).toContain("to-delete");
    expect((await secrets.getDeletedSecret("to-delete")).name).toBe("to-delete");

    const recovery = await secrets.beginRecoverDeletedSecret("to-delete", { intervalInMs: 10 });
    await recovery.pollUntilDone();
    expect((await secrets.getSecret("to-delete")).value).toBe("v");

    await (await secrets.beginDeleteSecret("to-delete", { intervalInMs: 10 })).pollUntilDone();
    await secrets.purgeDeletedSecret("to-delete");
    expect((await rejection(secrets.getDeletedSecret("to-delete"))).statusCode).toBe(404);
    expect((await secrets.setSecret("to-delete", "fresh")).value).toBe("fresh");
  });

  it("never shows secret values in the inventory, the logs or errors", async () => {
    const secrets = clientsFor(emu, emu.operator).secrets(vaultUri);
    const set = await secrets.setSecret("db-connection-string", CANARY);
    const entry = emu.inventory().resources.find((r) => r.name === "kv-data-1");
    expect(entry?.secrets?.find((s) => s.name === "db-connection-string")?.versions).toEqual([
      set.properties.version,
    ]);
    const bad = await rejection(secrets.setSecret("bad_name!", CANARY));
    expect(bad.statusCode).toBe(400);
    const readOnly = clientsFor(emu).secrets(vaultUri);
    const denied = await rejection(readOnly.setSecret("db-connection-string", CANARY));
    expect(denied.statusCode).toBe(403);
    const everything = JSON.stringify([emu.inventory(), log, bad, denied.message, denied.details]);
    expect(everything).not.toContain(CANARY);
    const http = await rawRequest(emu, `${emu.armEndpoint}/_emulator/inventory`);
    expect(http.body).not.toContain(CANARY);
  });
});

describe("Azure emulator: data-plane RBAC on a manual clock", () => {
  it("honours role assignments only after propagation, per caller and role, and from the resource group down", async () => {
    const clock = manualClock();
    const emu = await startAzureEmulator({ clock, responseDelays: false });
    const dir = await mkdtemp(join(tmpdir(), "labops-rbac-"));
    try {
      const bot = clientsFor(emu);
      await bot.resources.resourceGroups.createOrUpdate("lab-rbac-rg", { location: emu.location });
      const create = bot.keyVault.vaults.createOrUpdate("lab-rbac-rg", "kv-rbac-1", vaultParams(emu));
      await create.submitted();
      expect((await bot.keyVault.vaults.get("lab-rbac-rg", "kv-rbac-1")).properties.provisioningState).toBe(
        "RegisteringDns",
      );
      await clock.advance(emu.latency.vaultCreate);
      const vault = await create.pollUntilDone();
      expect(vault.properties.provisioningState).toBe("Succeeded");
      const uri = vault.properties.vaultUri ?? "";
      const botSecrets = bot.secrets(uri);

      // Owner of the subscription is no data-plane role: the bot is refused until it grants itself one.
      const before = await rejection(botSecrets.setSecret("color", "blue"));
      expect(before.statusCode).toBe(403);
      expect(before.code).toBe("Forbidden");
      expect(JSON.stringify(before.details)).toContain("ForbiddenByRbac");
      expect(before.message).toContain("Microsoft.KeyVault/vaults/secrets/setSecret/action");

      const officer = await bot.authorization.roleAssignments.create(
        vault.id ?? "",
        "a8f1b2c3-0000-4000-8000-000000000001",
        {
          roleDefinitionId: roleId(emu, KEY_VAULT_SECRETS_OFFICER),
          principalId: emu.bot.objectId,
          principalType: "ServicePrincipal",
        },
      );
      expect((await rejection(botSecrets.setSecret("color", "blue"))).statusCode).toBe(403);
      await clock.advance(emu.latency.roleAssignmentPropagation - 1);
      expect((await rejection(botSecrets.setSecret("color", "blue"))).statusCode).toBe(403);
      await clock.advance(1);
      expect((await botSecrets.setSecret("color", "blue")).value).toBe("blue");

      // A workload identity holding Secrets User on the resource group reads the vault beneath, and only reads.
      const aks = bot.containerService.managedClusters.createOrUpdate(
        "lab-rbac-rg",
        "lab-rbac-aks",
        labCluster(emu.location),
      );
      await aks.submitted();
      await clock.advance(emu.latency.managedClusterCreate);
      const cluster = await aks.pollUntilDone();
      const mi = await bot.msi.userAssignedIdentities.createOrUpdate("lab-rbac-rg", "lab-rbac-mi", {
        location: emu.location,
      });
      await bot.msi.federatedIdentityCredentials.createOrUpdate(
        "lab-rbac-rg",
        "lab-rbac-mi",
        "lab-rbac-fic",
        {
          issuer: cluster.oidcIssuerProfile?.issuerURL ?? "",
          subject: "system:serviceaccount:secret-lab:secret-lab-sa",
          audiences: ["api://AzureADTokenExchange"],
        },
      );
      emu.setRoleAssignmentPropagationDelay(5_000);
      await bot.authorization.roleAssignments.create(
        `/subscriptions/${emu.subscriptionId}/resourceGroups/lab-rbac-rg`,
        "a8f1b2c3-0000-4000-8000-000000000002",
        {
          roleDefinitionId: roleId(emu, KEY_VAULT_SECRETS_USER),
          principalId: mi.principalId ?? "",
          principalType: "ServicePrincipal",
        },
      );
      const tokenFile = join(dir, "token");
      await writeFile(
        tokenFile,
        await emu.world.signServiceAccountToken(cluster.id ?? "", {
          namespace: "secret-lab",
          serviceAccount: "secret-lab-sa",
          audience: "api://AzureADTokenExchange",
        }),
      );
      const workload = createAzureClients({
        endpoint: emu.armEndpoint,
        credential: createAzureCredential({
          tenantId: emu.tenantId,
          clientId: mi.clientId ?? "",
          federatedTokenFile: tokenFile,
          authorityHost: emu.authorityHost,
          caPem: emu.caPem,
        }),
        subscriptionId: emu.subscriptionId,
        caPem: emu.caPem,
      }).secrets(uri);
      expect((await rejection(workload.getSecret("color"))).statusCode).toBe(403);
      await clock.advance(5_000);
      expect((await workload.getSecret("color")).value).toBe("blue");
      const write = await rejection(workload.setSecret("color", "red"));
      expect(write.statusCode).toBe(403);
      expect(JSON.stringify(write.details)).toContain("ForbiddenByRbac");

      // Removing an assignment takes the access away.
      await bot.authorization.roleAssignments.delete(vault.id ?? "", officer.name ?? "");
      expect((await rejection(botSecrets.getSecret("color"))).statusCode).toBe(403);
    } finally {
      await emu.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("Azure emulator: Key Vault throttling on a manual clock", () => {
  it("answers 429 Throttled with Retry-After past the per-vault limit until the window turns", async () => {
    const clock = manualClock();
    const emu = await startAzureEmulator({
      clock,
      responseDelays: false,
      throttling: { vaultOther: 3, vaultCreates: 2 },
    });
    try {
      const { resources, keyVault } = clientsFor(emu);
      await resources.resourceGroups.createOrUpdate("lab-kvt-rg", { location: emu.location });
      const create = keyVault.vaults.createOrUpdate("lab-kvt-rg", "kv-throttle-1", vaultParams(emu));
      await create.submitted();
      await clock.advance(emu.latency.vaultCreate);
      const uri = (await create.pollUntilDone()).properties.vaultUri ?? "";
      const secrets = clientsFor(emu, emu.operator, { maxRetries: 0 }).secrets(uri);

      await secrets.setSecret("a", "1");
      await secrets.setSecret("b", "2");
      const tooManyCreates = await rejection(secrets.setSecret("c", "3"));
      expect(tooManyCreates.statusCode).toBe(429);
      expect(tooManyCreates.code).toBe("Throttled");
      expect(tooManyCreates.response?.headers.get("retry-after")).toBe("10");

      await secrets.getSecret("a");
      await secrets.getSecret("b");
      await secrets.getSecret("a");
      const tooManyReads = await rejection(secrets.getSecret("b"));
      expect(tooManyReads.statusCode).toBe(429);

      await clock.advance(10_000);
      expect((await secrets.getSecret("a")).value).toBe("1");
      expect((await secrets.setSecret("c", "3")).value).toBe("3");
    } finally {
      await emu.stop();
    }
  });
});
