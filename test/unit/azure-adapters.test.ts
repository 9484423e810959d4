import { ClientSecretCredential, WorkloadIdentityCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { needsChallengeResourceVerificationDisabled } from "../../adapters/azure/clients.ts";
import {
  AzureCredentialConfigError,
  createAzureCredential,
  needsInstanceDiscoveryDisabled,
} from "../../adapters/azure/credential.ts";
import { retryAfterMs } from "../../adapters/azure/errors.ts";

describe("Azure credential settings", () => {
  it("builds a client-secret or a workload-identity credential", () => {
    expect(createAzureCredential({ tenantId: "t", clientId: "c", clientSecret: "s" })).toBeInstanceOf(
      ClientSecretCredential,
    );
    expect(
      createAzureCredential({ tenantId: "t", clientId: "c", federatedTokenFile: "/var/run/token" }),
    ).toBeInstanceOf(WorkloadIdentityCredential);
  });

  it("names the variable to fix when the settings are incomplete or contradictory", () => {
    expect(() => createAzureCredential({ tenantId: "t", clientId: "c" })).toThrow(
      /AZURE_CLIENT_SECRET nor AZURE_FEDERATED_TOKEN_FILE/,
    );
    expect(() =>
      createAzureCredential({ tenantId: "t", clientId: "c", clientSecret: "s", federatedTokenFile: "/f" }),
    ).toThrow(AzureCredentialConfigError);
    expect(() => createAzureCredential({ tenantId: "", clientId: "c", clientSecret: "s" })).toThrow(
      /AZURE_TENANT_ID/,
    );
    expect(() =>
      createAzureCredential({ tenantId: "t", clientId: "c", clientSecret: "s", authorityHost: "nope" }),
    ).toThrow(/AZURE_AUTHORITY_HOST/);
  });

  it("turns instance discovery off for any authority but Entra's public cloud", () => {
    expect(needsInstanceDiscoveryDisabled(undefined)).toBe(false);
    expect(needsInstanceDiscoveryDisabled("https://login.microsoftonline.com")).toBe(false);
    expect(needsInstanceDiscoveryDisabled("https://login.microsoftonline.com/")).toBe(false);
    expect(needsInstanceDiscoveryDisabled("https://login.microsoftonline.us")).toBe(true);
    expect(needsInstanceDiscoveryDisabled("https://adfs.local.azurestack.external/adfs")).toBe(true);
    expect(needsInstanceDiscoveryDisabled("https://127.0.0.1:4443")).toBe(true);
  });

  it("keeps Key Vault's challenge resource check for vault host names and drops it for the rest", () => {
    expect(needsChallengeResourceVerificationDisabled("https://kv-a.vault.azure.net/")).toBe(false);
    expect(needsChallengeResourceVerificationDisabled("https://kv-a.vault.azure.cn/")).toBe(false);
    expect(needsChallengeResourceVerificationDisabled("https://hsm-a.managedhsm.azure.net/")).toBe(false);
    expect(needsChallengeResourceVerificationDisabled("https://127.0.0.1:41234/")).toBe(true);
    expect(needsChallengeResourceVerificationDisabled("https://secrets.internal.example/")).toBe(true);
  });
});

describe("Azure's Retry-After", () => {
  it("reads seconds, and an HTTP date against the clock's now", () => {
    const now = Date.UTC(2026, 11, 1, 9, 0, 0);
    expect(retryAfterMs("7", now)).toBe(7_000);
    expect(retryAfterMs("Tue, 01 Dec 2026 09:00:30 GMT", now)).toBe(30_000);
    expect(retryAfterMs("Tue, 01 Dec 2026 08:59:00 GMT", now)).toBe(0);
    expect(retryAfterMs("soon", now)).toBeUndefined();
  });
});
