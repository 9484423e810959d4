import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAzureClients } from "../../adapters/azure/clients.ts";
import { createAzureCredential } from "../../adapters/azure/credential.ts";
import { KeyVaultSecrets } from "../../adapters/azure/key-vault.ts";
import { ArmLabAzure } from "../../adapters/azure/lab-azure.ts";
import { type AzureEmulator, RESOURCE_TYPES, startAzureEmulator } from "../../emulators/azure/index.ts";
import { systemClock } from "../../src/clock.ts";
import { createLabPlan, DEFAULT_LAB_SHAPE } from "../../src/labs/create-plan.ts";
import { LAB_SECRETS } from "../../src/labs/naming.ts";
import { runPlan, type StepEvent, type StepOutputs } from "../../src/labs/runner.ts";
import { createLogger } from "../../src/log.ts";
import type { ClusterPort } from "../../src/ports/cluster.ts";

const TIME_SCALE = 2_000;
const AZURE_ONLY = new Set(["rg", "kv", "mi", "role-mi", "role-bot", "secrets"]);
const logger = createLogger({ level: "silent" });
const clock = systemClock(TIME_SCALE);

const noCluster: ClusterPort = {
  connect() {
    throw new Error("this test runs the Azure steps only");
  },
};

describe("the lab plan's Azure steps on the real SDKs against the Azure emulator", () => {
  let emu: AzureEmulator;
  let azure: ArmLabAzure;
  let keyVault: KeyVaultSecrets;

  beforeAll(async () => {
    emu = await startAzureEmulator({ timeScale: TIME_SCALE });
    const credential = createAzureCredential({
      tenantId: emu.tenantId,
      clientId: emu.bot.clientId,
      clientSecret: emu.bot.clientSecret,
      authorityHost: emu.authorityHost,
      caPem: emu.caPem,
    });
    const clients = createAzureClients({
      endpoint: emu.armEndpoint,
      credential,
      subscriptionId: emu.subscriptionId,
      caPem: emu.caPem,
      retry: { maxRetries: 3, retryDelayInMs: 5, maxRetryDelayInMs: 50 },
    });
    azure = new ArmLabAzure({
      clients,
      credential,
      subscriptionId: emu.subscriptionId,
      tenantId: emu.tenantId,
      armEndpoint: emu.armEndpoint,
      clock,
    });
    keyVault = new KeyVaultSecrets((uri) => clients.secrets(uri), clock);
  });
  afterAll(async () => emu?.stop());

  function azureSteps(lab: string) {
    const plan = createLabPlan(
      {
        lab,
        location: emu.location,
        subscriptionId: emu.subscriptionId,
        tenantId: emu.tenantId,
        tags: { "labops-lab": lab },
        ...DEFAULT_LAB_SHAPE,
      },
      { azure, keyVault, cluster: noCluster, clock },
    );
    return plan.steps.filter((s) => AZURE_ONLY.has(s.name));
  }

  function created(type: string): number {
    return emu.inventory().counts[type]?.created ?? 0;
  }

  async function run(lab: string, done: Record<string, StepOutputs> = {}, events: StepEvent[] = []) {
    const saved: Record<string, StepOutputs> = { ...done };
    const outputs = await runPlan(azureSteps(lab), {
      signal: new AbortController().signal,
      logger,
      clock,
      onEvent: (e) => events.push(e),
      checkpoints: {
        done,
        async save(step, out) {
          saved[step] = out;
        },
      },
    });
    return { outputs, saved };
  }

  it("creates each resource once, seeds the secrets through RBAC propagation, and creates nothing on a rerun", async () => {
    const before = {
      rg: created(RESOURCE_TYPES.resourceGroup),
      kv: created(RESOURCE_TYPES.vault),
      mi: created(RESOURCE_TYPES.identity),
      ra: created(RESOURCE_TYPES.roleAssignment),
      versions: created(RESOURCE_TYPES.secretVersion),
    };
    const events: StepEvent[] = [];
    // Five emulated minutes: longer than Azure usually takes, so the seed write surely meets it.
    emu.setRoleAssignmentPropagationDelay(300_000);
    const first = await run("team-a", {}, events);
    expect(first.outputs.kv?.name).toMatch(/^kv-team-a-[a-z0-9]{5}$/);
    expect(first.outputs["role-bot"]?.principalId).toBe(emu.bot.objectId);
    // The seed write met Key Vault before the role had propagated, and rode it out.
    expect(
      events.some((e) => e.type === "retrying" && e.step === "secrets" && e.code === "ForbiddenByRbac"),
    ).toBe(true);

    // A rerun from nothing (a job that lost its checkpoints) finds everything and adds nothing.
    const second = await run("team-a");
    expect(second.outputs.kv?.name).toBe(first.outputs.kv?.name);
    expect(second.outputs.secrets).toEqual(first.outputs.secrets);

    expect(created(RESOURCE_TYPES.resourceGroup) - before.rg).toBe(1);
    expect(created(RESOURCE_TYPES.vault) - before.kv).toBe(1);
    expect(created(RESOURCE_TYPES.identity) - before.mi).toBe(1);
    expect(created(RESOURCE_TYPES.roleAssignment) - before.ra).toBe(2);
    expect(created(RESOURCE_TYPES.secretVersion) - before.versions).toBe(LAB_SECRETS.length);
    const vault = emu.inventory().resources.find((r) => r.name === first.outputs.kv?.name);
    expect(vault?.secrets?.map((s) => [s.name, s.versions.length]).sort()).toEqual([
      ["color", 1],
      ["db-connection-string", 1],
    ]);
  });

  it("rides out injected 429s and 500s", async () => {
    emu.faults.add({
      method: "PUT",
      path: "/resourcegroups/lab-team-b-rg$",
      status: 429,
      count: 2,
      retryAfterSeconds: 1,
    });
    emu.faults.add({ method: "PUT", path: "userAssignedIdentities/lab-team-b-mi$", status: 500, count: 5 });
    const { outputs } = await run("team-b");
    expect(outputs.mi?.clientId).toMatch(/[0-9a-f-]{36}/);
    expect(emu.faults.list()).toEqual([]);
  });

  it("moves to the next vault name when the global name is taken", async () => {
    const taken = (await run("team-c")).outputs.kv?.name;
    // Same lab name in another subscription's view: simulate by creating a vault of the next lab's first name elsewhere.
    expect(taken).toBeDefined();
    const events: StepEvent[] = [];
    // Delete the resource group (the vault goes soft-deleted and keeps its name), then create the lab again.
    await azure.deleteResourceGroup("lab-team-c-rg", new AbortController().signal);
    const again = await run("team-c", {}, events);
    expect(again.outputs.kv?.name).not.toBe(taken);
    expect(again.outputs.kv?.name).toMatch(/^kv-team-c-[a-z0-9]{5}$/);
  });

  it("names the Azure error code and a hint when a step cannot succeed", async () => {
    emu.faults.add({
      method: "PUT",
      path: "managedIdentity.*lab-team-d-mi$|lab-team-d-mi$",
      status: 403,
      code: "AuthorizationFailed",
      count: 10,
    });
    const error = await run("team-d").catch((e: unknown) => e);
    expect(error).toMatchObject({ step: "mi", code: "AuthorizationFailed" });
    expect((error as { hint?: string }).hint).toMatch(/Contributor/);
    emu.faults.clear();
  });
});
