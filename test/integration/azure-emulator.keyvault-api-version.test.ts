import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEY_VAULT_MANAGEMENT_API_VERSION } from "../../adapters/azure/clients.ts";
import { createAzureCredential } from "../../adapters/azure/credential.ts";
import { type AzureEmulator, startAzureEmulator } from "../../emulators/azure/index.ts";
import { clientsFor, rejection } from "./azure-emulator-helpers.ts";

// The Key Vault management API version labops pins, and the emulator's answer to it and to the one
// before (issue 18, gap 8). Versions before 2026-02-01 retire in February 2027; 2026-02-01 makes Azure
// RBAC the default permission model (azure-rest-api-specs specification/keyvault/resource-manager/
// Microsoft.KeyVault/stable/2026-02-01/openapi.json, VaultProperties.enableRbacAuthorization
// "default": true).

let emu: AzureEmulator;

function versionSpy(seen: string[]): PipelinePolicy {
  return {
    name: "api-version-spy",
    sendRequest(request, next) {
      const v = new URL(request.url).searchParams.get("api-version");
      if (v) seen.push(v);
      return next(request);
    },
  };
}

/** A policy granting the bot every secret permission: what decides access only without RBAC. */
function botPolicy() {
  return {
    tenantId: emu.tenantId,
    objectId: emu.bot.objectId,
    permissions: { secrets: ["get", "list", "set", "delete"] },
  };
}

beforeAll(async () => {
  emu = await startAzureEmulator({ timeScale: 100_000 });
  await clientsFor(emu).resources.resourceGroups.createOrUpdate("lab-kvv-rg", { location: emu.location });
});

afterAll(async () => {
  await emu?.stop();
});

describe("Key Vault management API version", () => {
  it("labops pins 2026-02-01, where a vault created without enableRbacAuthorization uses Azure RBAC", async () => {
    expect(KEY_VAULT_MANAGEMENT_API_VERSION).toBe("2026-02-01");
    const clients = clientsFor(emu);
    const seen: string[] = [];
    clients.keyVault.pipeline.addPolicy(versionSpy(seen));
    const vault = await clients.keyVault.vaults
      .createOrUpdate("lab-kvv-rg", "kv-rbac-default", {
        location: emu.location,
        properties: {
          tenantId: emu.tenantId,
          sku: { family: "A", name: "standard" },
          accessPolicies: [botPolicy()],
        },
      })
      .pollUntilDone();
    expect(new Set(seen)).toEqual(new Set(["2026-02-01"]));
    expect(vault.properties.enableRbacAuthorization).toBe(true);
    // With RBAC the access policies are ignored: the bot holds no data-plane role.
    const refused = await rejection(clients.secrets(vault.properties.vaultUri ?? "").setSecret("a", "1"));
    expect(refused.statusCode).toBe(403);
    expect(JSON.stringify(refused.details)).toContain("ForbiddenByRbac");
  });

  it("keeps access policies as the default under 2025-05-01, and a PATCH that leaves it out changes nothing", async () => {
    const credential = createAzureCredential({
      tenantId: emu.tenantId,
      clientId: emu.bot.clientId,
      clientSecret: emu.bot.clientSecret,
      authorityHost: emu.authorityHost,
      caPem: emu.caPem,
    });
    // @azure/arm-keyvault 5.0.0 KnownVersions: 2025-05-01 is the version before 2026-02-01.
    const older = new KeyVaultManagementClient(credential, emu.subscriptionId, {
      endpoint: emu.armEndpoint,
      tlsOptions: { ca: emu.caPem },
      apiVersion: "2025-05-01",
    });
    const seen: string[] = [];
    older.pipeline.addPolicy(versionSpy(seen));
    const vault = await older.vaults
      .createOrUpdate("lab-kvv-rg", "kv-policy-default", {
        location: emu.location,
        properties: {
          tenantId: emu.tenantId,
          sku: { family: "A", name: "standard" },
          accessPolicies: [botPolicy()],
        },
      })
      .pollUntilDone();
    expect(new Set(seen)).toEqual(new Set(["2025-05-01"]));
    expect(vault.properties.enableRbacAuthorization).toBe(false);
    const clients = clientsFor(emu);
    const secrets = clients.secrets(vault.properties.vaultUri ?? "");
    expect((await secrets.setSecret("a", "1")).value).toBe("1");
    // VaultPatchProperties.enableRbacAuthorization: "If null or not specified, the value of this
    // property will not change", in 2026-02-01 as before.
    const patched = await clients.keyVault.vaults.update("lab-kvv-rg", "kv-policy-default", {
      tags: { lab: "kvv" },
    });
    expect(patched.properties.enableRbacAuthorization).toBe(false);
    expect((await secrets.getSecret("a")).value).toBe("1");
  });
});
