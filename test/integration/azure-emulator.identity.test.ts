import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callerObjectId } from "../../adapters/azure/clients.ts";
import { createAzureCredential } from "../../adapters/azure/credential.ts";
import {
  AZURE_LATENCY_PROFILE,
  type AzureEmulator,
  type AzureLatencyProfile,
  KEY_VAULT_SECRETS_OFFICER,
  KEY_VAULT_SECRETS_USER,
  startAzureEmulator,
} from "../../emulators/azure/index.ts";
import { manualClock } from "../../emulators/shared/clock.ts";
import { clientsFor, collect, labCluster, rejection, roleId, until } from "./azure-emulator-helpers.ts";

const SUBJECT = "system:serviceaccount:secret-lab:secret-lab-sa";
const AUDIENCE = "api://AzureADTokenExchange";

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as Record<
    string,
    unknown
  >;
}

describe("Azure emulator: identities and the workload-identity exchange", () => {
  let emu: AzureEmulator;
  let dir: string;
  let clusterId: string;
  let issuer: string;
  let otherClusterId: string;
  let plainClusterId: string;
  let mi: { clientId: string; principalId: string };

  beforeAll(async () => {
    emu = await startAzureEmulator({ timeScale: 100_000 });
    dir = await mkdtemp(join(tmpdir(), "labops-wi-"));
    const { resources, containerService, msi } = clientsFor(emu);
    await resources.resourceGroups.createOrUpdate("lab-id-rg", { location: emu.location });
    const [cluster, other, plain] = await Promise.all([
      containerService.managedClusters
        .createOrUpdate("lab-id-rg", "lab-id-aks", labCluster(emu.location))
        .pollUntilDone(),
      containerService.managedClusters
        .createOrUpdate("lab-id-rg", "lab-id-aks2", labCluster(emu.location))
        .pollUntilDone(),
      containerService.managedClusters
        .createOrUpdate("lab-id-rg", "lab-id-plain", {
          ...labCluster(emu.location),
          oidcIssuerProfile: { enabled: false },
          securityProfile: {},
        })
        .pollUntilDone(),
    ]);
    clusterId = cluster.id ?? "";
    issuer = cluster.oidcIssuerProfile?.issuerURL ?? "";
    otherClusterId = other.id ?? "";
    plainClusterId = plain.id ?? "";
    const identity = await msi.userAssignedIdentities.createOrUpdate("lab-id-rg", "lab-id-mi", {
      location: emu.location,
    });
    mi = { clientId: identity.clientId ?? "", principalId: identity.principalId ?? "" };
    await msi.federatedIdentityCredentials.createOrUpdate("lab-id-rg", "lab-id-mi", "lab-id-fic", {
      issuer,
      subject: SUBJECT,
      audiences: [AUDIENCE],
    });
  });
  afterAll(async () => {
    await emu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function credentialWith(token: string, clientId = mi.clientId) {
    const file = join(dir, `token-${Math.random().toString(16).slice(2)}`);
    await writeFile(file, token);
    return createAzureCredential({
      tenantId: emu.tenantId,
      clientId,
      federatedTokenFile: file,
      authorityHost: emu.authorityHost,
      caPem: emu.caPem,
    });
  }

  function serviceAccountToken(
    cluster = clusterId,
    overrides: Partial<{ serviceAccount: string; audience: string; expiresInSeconds: number }> = {},
  ) {
    return emu.world.signServiceAccountToken(cluster, {
      namespace: "secret-lab",
      serviceAccount: overrides.serviceAccount ?? "secret-lab-sa",
      audience: overrides.audience ?? AUDIENCE,
      ...(overrides.expiresInSeconds !== undefined ? { expiresInSeconds: overrides.expiresInSeconds } : {}),
    });
  }

  it("creates, reads, lists and deletes identities with client and principal ids", async () => {
    const { msi } = clientsFor(emu);
    const created = await msi.userAssignedIdentities.createOrUpdate("lab-id-rg", "lab-id-temp", {
      location: emu.location,
      tags: { lab: "x" },
    });
    expect(created.clientId).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.tenantId).toBe(emu.tenantId);
    expect(created.id).toBe(
      `/subscriptions/${emu.subscriptionId}/resourcegroups/lab-id-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/lab-id-temp`,
    );
    const again = await msi.userAssignedIdentities.createOrUpdate("lab-id-rg", "lab-id-temp", {
      location: emu.location,
    });
    expect(again.clientId).toBe(created.clientId);
    const names = (await collect(msi.userAssignedIdentities.listByResourceGroup("lab-id-rg"))).map(
      (i) => i.name,
    );
    expect(names.sort()).toEqual(["lab-id-mi", "lab-id-temp"]);
    await msi.userAssignedIdentities.delete("lab-id-rg", "lab-id-temp");
    expect((await rejection(msi.userAssignedIdentities.get("lab-id-rg", "lab-id-temp"))).code).toBe(
      "ResourceNotFound",
    );
    const invalid = await rejection(
      msi.userAssignedIdentities.createOrUpdate("lab-id-rg", "x", { location: emu.location }),
    );
    expect(invalid.code).toBe("InvalidResourceName");
  });

  it("validates federated credentials: https issuer, subject, exactly one audience, unique issuer and subject", async () => {
    const { msi } = clientsFor(emu);
    const put = (name: string, body: { issuer: string; subject: string; audiences: string[] }) =>
      rejection(msi.federatedIdentityCredentials.createOrUpdate("lab-id-rg", "lab-id-mi", name, body));
    expect(
      (await put("fic-http", { issuer: "http://example.com/", subject: SUBJECT, audiences: [AUDIENCE] }))
        .statusCode,
    ).toBe(400);
    expect(
      (await put("fic-nourl", { issuer: "not a url", subject: SUBJECT, audiences: [AUDIENCE] })).statusCode,
    ).toBe(400);
    expect((await put("fic-nosub", { issuer, subject: "", audiences: [AUDIENCE] })).statusCode).toBe(400);
    expect((await put("fic-noaud", { issuer, subject: SUBJECT, audiences: [] })).statusCode).toBe(400);
    expect(
      (await put("fic-twoaud", { issuer, subject: SUBJECT, audiences: [AUDIENCE, "api://other"] }))
        .statusCode,
    ).toBe(400);
    const duplicate = await put("fic-dup", { issuer, subject: SUBJECT, audiences: [AUDIENCE] });
    expect(duplicate.statusCode).toBe(400);
    expect(duplicate.message).toContain("lab-id-fic");
    const missing = await rejection(
      msi.federatedIdentityCredentials.createOrUpdate("lab-id-rg", "no-such-mi", "fic", {
        issuer,
        subject: SUBJECT,
        audiences: [AUDIENCE],
      }),
    );
    expect(missing.statusCode).toBe(404);

    const listed = await collect(msi.federatedIdentityCredentials.list("lab-id-rg", "lab-id-mi"));
    expect(listed.map((f) => [f.name, f.issuer, f.subject, f.audiences])).toEqual([
      ["lab-id-fic", issuer, SUBJECT, [AUDIENCE]],
    ]);
    const one = await msi.federatedIdentityCredentials.get("lab-id-rg", "lab-id-mi", "lab-id-fic");
    expect(one.type).toBe("Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials");
  });

  it("exchanges a service-account token for the identity's token through WorkloadIdentityCredential", async () => {
    const credential = await credentialWith(await serviceAccountToken());
    const token = await credential.getToken("https://vault.azure.net/.default");
    const claims = claimsOf(token?.token ?? "");
    expect(claims).toMatchObject({
      oid: mi.principalId,
      appid: mi.clientId,
      azp: mi.clientId,
      tid: emu.tenantId,
      aud: "https://vault.azure.net",
      iss: `${emu.authorityHost}/${emu.tenantId}/v2.0`,
    });
    expect(typeof claims.exp).toBe("number");
    expect(await callerObjectId(credential)).toBe(mi.principalId);
  });

  it("refuses assertions that match no federated credential, with Entra's AADSTS codes", async () => {
    const fail = async (token: string, clientId?: string) =>
      (await rejection((await credentialWith(token, clientId)).getToken("https://vault.azure.net/.default")))
        .message;

    expect(await fail(await serviceAccountToken(), "00000000-1111-4222-8333-444444444444")).toContain(
      "AADSTS700016",
    );
    expect(await fail(await serviceAccountToken(otherClusterId))).toContain("AADSTS700211");
    expect(await fail(await serviceAccountToken(plainClusterId))).toContain(
      "presented assertion issuer 'https://kubernetes.default.svc.cluster.local'",
    );
    const wrongSubject = await fail(await serviceAccountToken(clusterId, { serviceAccount: "default" }));
    expect(wrongSubject).toContain(
      `AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: '${issuer}'. Assertion Subject: 'system:serviceaccount:secret-lab:default'. Assertion Audience: '${AUDIENCE}'.`,
    );
    const wrongAudience = await fail(await serviceAccountToken(clusterId, { audience: "api://other" }));
    expect(wrongAudience).toContain("AADSTS70021");
    expect(wrongAudience).toContain("Assertion Audience: 'api://other'");
    expect(await fail(await serviceAccountToken(clusterId, { expiresInSeconds: -3600 }))).toContain(
      "AADSTS700024",
    );

    const [header, payload] = (await serviceAccountToken()).split(".");
    const foreignSignature = (await serviceAccountToken(otherClusterId)).split(".")[2];
    expect(await fail(`${header}.${payload}.${foreignSignature}`)).toContain("AADSTS700027");
  });

  it("refuses a wrong client secret", async () => {
    const credential = createAzureCredential({
      tenantId: emu.tenantId,
      clientId: emu.bot.clientId,
      clientSecret: "not-the-secret",
      authorityHost: emu.authorityHost,
      caPem: emu.caPem,
    });
    expect((await rejection(credential.getToken("https://management.azure.com/.default"))).message).toContain(
      "AADSTS7000215",
    );
  });

  it("gives the bot its own object id from its token", async () => {
    const credential = createAzureCredential({
      tenantId: emu.tenantId,
      clientId: emu.bot.clientId,
      clientSecret: emu.bot.clientSecret,
      authorityHost: emu.authorityHost,
      caPem: emu.caPem,
    });
    expect(await callerObjectId(credential)).toBe(emu.bot.objectId);
    expect(await callerObjectId(credential, `${emu.armEndpoint}/.default`)).toBe(emu.bot.objectId);
  });

  it("fails the exchange once the cluster (and its issuer) is gone", async () => {
    const token = await serviceAccountToken(clusterId);
    const { containerService } = clientsFor(emu);
    await containerService.managedClusters.delete("lab-id-rg", "lab-id-aks").pollUntilDone();
    const message = (
      await rejection((await credentialWith(token)).getToken("https://vault.azure.net/.default"))
    ).message;
    expect(message).toContain("AADSTS50166");
  });
});

describe("Azure emulator: role assignments", () => {
  let emu: AzureEmulator;
  let vaultId: string;
  const name = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5";

  beforeAll(async () => {
    emu = await startAzureEmulator({ timeScale: 100_000 });
    const { resources, keyVault } = clientsFor(emu);
    await resources.resourceGroups.createOrUpdate("lab-ra-rg", { location: emu.location });
    const vault = await keyVault.vaults.createOrUpdate("lab-ra-rg", "kv-ra-1", {
      location: emu.location,
      properties: {
        tenantId: emu.tenantId,
        sku: { family: "A", name: "standard" },
        enableRbacAuthorization: true,
      },
    });
    vaultId = vault.id ?? "";
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it("creates with a GUID name, is idempotent, and refuses the same grant under another name", async () => {
    const { authorization } = clientsFor(emu);
    const params = {
      roleDefinitionId: roleId(emu, KEY_VAULT_SECRETS_OFFICER),
      principalId: emu.bot.objectId,
      principalType: "ServicePrincipal" as const,
    };
    const created = await authorization.roleAssignments.create(vaultId, name, params);
    expect(created).toMatchObject({
      id: `${vaultId}/providers/Microsoft.Authorization/roleAssignments/${name}`,
      name,
      type: "Microsoft.Authorization/roleAssignments",
      scope: vaultId,
      principalId: emu.bot.objectId,
      roleDefinitionId: roleId(emu, KEY_VAULT_SECRETS_OFFICER),
    });
    expect((await authorization.roleAssignments.create(vaultId, name, params)).name).toBe(name);
    const duplicate = await rejection(
      authorization.roleAssignments.create(vaultId, "7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e", params),
    );
    expect(duplicate.statusCode).toBe(409);
    expect(duplicate.code).toBe("RoleAssignmentExists");

    const badName = await rejection(authorization.roleAssignments.create(vaultId, "not-a-guid", params));
    expect(badName.code).toBe("InvalidRoleAssignmentId");
    const badRole = await rejection(
      authorization.roleAssignments.create(vaultId, "11111111-1111-4111-8111-111111111111", {
        ...params,
        roleDefinitionId: roleId(emu, "22222222-2222-4222-8222-222222222222"),
      }),
    );
    expect(badRole.code).toBe("RoleDefinitionDoesNotExist");
    const unknownPrincipal = await rejection(
      authorization.roleAssignments.create(vaultId, "33333333-3333-4333-8333-333333333333", {
        roleDefinitionId: roleId(emu, KEY_VAULT_SECRETS_USER),
        principalId: "44444444-4444-4444-8444-444444444444",
      }),
    );
    expect(unknownPrincipal.code).toBe("PrincipalNotFound");
    const missingScope = await rejection(
      authorization.roleAssignments.create(
        `/subscriptions/${emu.subscriptionId}/resourceGroups/lab-ra-rg/providers/Microsoft.KeyVault/vaults/kv-nope`,
        "55555555-5555-4555-8555-555555555555",
        params,
      ),
    );
    expect(missingScope.statusCode).toBe(404);
  });

  it("gets, lists for a scope (with filters) and deletes", async () => {
    const { authorization } = clientsFor(emu);
    expect((await authorization.roleAssignments.get(vaultId, name)).principalId).toBe(emu.bot.objectId);
    const atVault = await collect(authorization.roleAssignments.listForScope(vaultId));
    // The vault's own assignment plus the seeded ones at subscription scope above it.
    expect(atVault.map((r) => r.name)).toContain(name);
    const forBot = await collect(
      authorization.roleAssignments.listForScope(vaultId, { filter: `principalId eq '${emu.bot.objectId}'` }),
    );
    expect(forBot.every((r) => r.principalId === emu.bot.objectId)).toBe(true);
    const rgScope = `/subscriptions/${emu.subscriptionId}/resourceGroups/lab-ra-rg`;
    const aboveRg = await collect(
      authorization.roleAssignments.listForScope(rgScope, { filter: "atScope()" }),
    );
    expect(aboveRg.map((r) => r.name)).not.toContain(name);
    const belowRg = await collect(authorization.roleAssignments.listForScope(rgScope));
    expect(belowRg.map((r) => r.name)).toContain(name);

    await authorization.roleAssignments.delete(vaultId, name);
    expect((await rejection(authorization.roleAssignments.get(vaultId, name))).code).toBe(
      "RoleAssignmentNotFound",
    );
    await authorization.roleAssignments.delete(vaultId, name);
  });

  it("serves the built-in role definitions with their real ids", async () => {
    const { authorization } = clientsFor(emu);
    const scope = `/subscriptions/${emu.subscriptionId}`;
    const user = await authorization.roleDefinitions.get(scope, KEY_VAULT_SECRETS_USER);
    expect(user.roleName).toBe("Key Vault Secrets User");
    expect(user.permissions?.[0]?.dataActions).toContain(
      "Microsoft.KeyVault/vaults/secrets/getSecret/action",
    );
    const byName = await collect(
      authorization.roleDefinitions.list(scope, { filter: "roleName eq 'Key Vault Secrets Officer'" }),
    );
    expect(byName.map((r) => r.name)).toEqual([KEY_VAULT_SECRETS_OFFICER]);
  });
});

describe("Azure emulator: concurrent federated credential writes", () => {
  it("refuses a second credential write on one identity while the first is in flight", async () => {
    const clock = manualClock();
    const latency: Partial<AzureLatencyProfile> = {};
    for (const key of Object.keys(AZURE_LATENCY_PROFILE) as (keyof AzureLatencyProfile)[]) latency[key] = 0;
    latency.federatedCredentialCreate = 2_000;
    const emu = await startAzureEmulator({ clock, latency });
    try {
      const { resources, msi } = clientsFor(emu);
      await resources.resourceGroups.createOrUpdate("lab-fic-rg", { location: emu.location });
      await msi.userAssignedIdentities.createOrUpdate("lab-fic-rg", "lab-fic-mi", { location: emu.location });
      const first = msi.federatedIdentityCredentials.createOrUpdate("lab-fic-rg", "lab-fic-mi", "fic-one", {
        issuer: "https://issuer.example/one/",
        subject: SUBJECT,
        audiences: [AUDIENCE],
      });
      await until(() => clock.pending() > 0, "the first write to wait its latency");
      const second = await rejection(
        msi.federatedIdentityCredentials.createOrUpdate("lab-fic-rg", "lab-fic-mi", "fic-two", {
          issuer: "https://issuer.example/two/",
          subject: SUBJECT,
          audiences: [AUDIENCE],
        }),
      );
      expect(second.statusCode).toBe(409);
      expect(second.code).toBe("ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity");
      await clock.advance(2_000);
      expect((await first).name).toBe("fic-one");
    } finally {
      await emu.stop();
    }
  });
});
