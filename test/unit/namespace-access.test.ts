import { describe, expect, it } from "vitest";
import type { IncomingCommand, IntakeDeps } from "../../src/commands/intake.ts";
import { memberChange } from "../../src/commands/member-intake.ts";
import { changeMembers } from "../../src/commands/members.ts";
import { createLabPlan, HOSTED_CREATE_STEPS } from "../../src/labs/create-plan.ts";
import { createDestroyPlan } from "../../src/labs/destroy-plan.ts";
import {
  entraObjectId,
  grantNamespaceAccess,
  hostClusterId,
  labPeople,
  namespaceAccess,
  namespaceScope,
  revokeNamespaceAccess,
  userFromTag,
} from "../../src/labs/namespace-access.ts";
import { ROLE, roleAssignmentName } from "../../src/labs/naming.ts";
import type { Step } from "../../src/labs/steps.ts";
import { createLogger, type LineLogger } from "../../src/log.ts";
import type { AzureLabPort, KeyVaultPort } from "../../src/ports/azure.ts";
import type { ClusterPort } from "../../src/ports/cluster.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import { ManualClock } from "../fakes/clock.ts";
import { MemoryQueue } from "../fakes/queue.ts";
import { MemoryLabRegistry } from "../fakes/registry.ts";
import { MemoryRoleAssignments } from "../fakes/role-assignments.ts";

const SUB = "00000000-0000-4000-8000-000000000001";
const ADA = "a0000000-0000-4000-8000-00000000000a";
const BOB = "b0000000-0000-4000-8000-00000000000b";
const CLUSTER = `/subscriptions/${SUB}/resourceGroups/host-ws-rg/providers/Microsoft.ContainerService/managedClusters/host-ws-aks`;
const logger = createLogger({ level: "silent" });

function record(name: string, owner: LabRecord["owner"], members: LabRecord["owner"][] = []): LabRecord {
  return {
    name,
    state: "ready",
    owner,
    members,
    address: { platform: owner.platform, channel: "C1", tenant: "t", serviceUrl: "https://smba" },
    location: "westeurope",
    createdAt: 0,
    updatedAt: 0,
    expiresAt: 1,
    outputs: {},
    host: "ws",
  } as LabRecord;
}

describe("who labops can give a namespace to", () => {
  it("knows a Teams user's Entra object id, never a Slack user's", () => {
    expect(entraObjectId({ platform: "teams", id: ADA.toUpperCase() })).toBe(ADA);
    expect(entraObjectId({ platform: "slack", id: "U0ADA" })).toBeUndefined();
    // Not an object id (a `29:` id that was never looked up, a test's name): nothing is assigned.
    expect(entraObjectId({ platform: "teams", id: "29:1abc" })).toBeUndefined();
  });

  it("reads the owner back from the labops-owner tag", () => {
    expect(userFromTag(`teams:${ADA}`)).toEqual({ platform: "teams", id: ADA });
    expect(userFromTag("slack:U0ADA")).toEqual({ platform: "slack", id: "U0ADA" });
    expect(userFromTag("irc:x")).toBeUndefined();
    expect(userFromTag(undefined)).toBeUndefined();
  });

  it("counts the owner and each member once", () => {
    const owner = { platform: "teams" as const, id: ADA };
    const people = labPeople(record("a", owner, [{ platform: "teams", id: BOB }, { ...owner }]));
    expect(people.map((p) => p.id)).toEqual([ADA, BOB]);
  });
});

describe("the two assignments of a namespace", () => {
  it("are Cluster User at the host's cluster and RBAC Writer at lab-NAME under it, for a User", () => {
    expect(hostClusterId(SUB, "ws")).toBe(CLUSTER);
    expect(namespaceScope(SUB, "ws", "team-a")).toBe(`${CLUSTER}/namespaces/lab-team-a`);
    expect(namespaceAccess(SUB, "ws", "team-a", ADA)).toEqual({
      cluster: {
        scope: CLUSTER,
        roleDefinitionId: "4abbcc35-e782-43d8-92c5-2d3f1bd2253f",
        principalId: ADA,
        principalType: "User",
      },
      namespace: {
        scope: `${CLUSTER}/namespaces/lab-team-a`,
        roleDefinitionId: "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb",
        principalId: ADA,
        principalType: "User",
      },
    });
  });

  it("have names that follow from scope, role and principal, so a retry finds what it made", () => {
    const a = namespaceAccess(SUB, "ws", "team-a", ADA).namespace;
    const name = roleAssignmentName(a.scope, a.roleDefinitionId, a.principalId);
    expect(roleAssignmentName(a.scope.toUpperCase(), a.roleDefinitionId, ADA.toUpperCase())).toBe(name);
    expect(roleAssignmentName(namespaceScope(SUB, "ws", "team-b"), a.roleDefinitionId, ADA)).not.toBe(name);
  });

  it("are granted twice without a second copy, and revoking leaves the cluster one", async () => {
    const azure = new MemoryRoleAssignments();
    const where = { subscriptionId: SUB, host: "ws", lab: "team-a" };
    const ada = { platform: "teams" as const, id: ADA };
    expect(await grantNamespaceAccess(azure, where, ada, new AbortController().signal)).toBe(true);
    expect(await grantNamespaceAccess(azure, where, ada, new AbortController().signal)).toBe(true);
    expect(azure.list()).toEqual([
      `${ROLE.aksClusterUser} ${ADA} ${CLUSTER}`,
      `${ROLE.aksRbacWriter} ${ADA} ${CLUSTER}/namespaces/lab-team-a`,
    ]);
    expect(await revokeNamespaceAccess(azure, where, ada, new AbortController().signal)).toBe(true);
    expect(azure.list()).toEqual([`${ROLE.aksClusterUser} ${ADA} ${CLUSTER}`]);
    // Slack: nothing to give or take.
    const slack = { platform: "slack" as const, id: "U0ADA" };
    expect(await grantNamespaceAccess(azure, where, slack, new AbortController().signal)).toBe(false);
    expect(await revokeNamespaceAccess(azure, where, slack, new AbortController().signal)).toBe(false);
    expect(azure.calls.filter((c) => c.includes("U0ADA"))).toEqual([]);
  });
});

describe("the plans", () => {
  const unused = {} as KeyVaultPort;
  const plan = (owner: string, azure: MemoryRoleAssignments) =>
    createLabPlan(
      {
        lab: "team-a",
        location: "westeurope",
        subscriptionId: SUB,
        tenantId: "t",
        tags: { "labops-lab": "team-a", "labops-owner": owner },
        replicas: 2,
        nodeCount: 2,
        vmSize: "Standard_B2s",
        rotationPollInterval: "1m",
        host: { name: "ws", oidcIssuerUrl: "https://issuer" },
      },
      {
        azure: azure as unknown as AzureLabPort, // the access step calls the two role methods only
        keyVault: unused,
        cluster: {} as ClusterPort,
        clock: new ManualClock(),
      },
    );
  const runStep = async (steps: readonly Step[], name: string) => {
    const step = steps.find((s) => s.name === name);
    const signal = new AbortController().signal;
    return step?.run({ signal, logger, attempt: 1, outputs: {}, output: () => "" });
  };

  it("a lab on a host gives its Teams owner the namespace once the workload is there", async () => {
    expect(HOSTED_CREATE_STEPS.find((s) => s.name === "access")?.dependsOn).toEqual(["workload"]);
    const azure = new MemoryRoleAssignments();
    expect(await runStep(plan(`teams:${ADA}`, azure).steps, "access")).toEqual({ principalId: ADA });
    expect(azure.list()).toEqual([
      `${ROLE.aksClusterUser} ${ADA} ${CLUSTER}`,
      `${ROLE.aksRbacWriter} ${ADA} ${CLUSTER}/namespaces/lab-team-a`,
    ]);
  });

  it("a Slack owner's lab assigns nothing", async () => {
    const azure = new MemoryRoleAssignments();
    expect(await runStep(plan("slack:U0ADA", azure).steps, "access")).toEqual({ skipped: "no_entra_id" });
    expect(azure.calls).toEqual([]);
  });

  it("a destroy removes the namespace assignments of the owner and members, and no other lab's", async () => {
    const azure = new MemoryRoleAssignments();
    const signal = new AbortController().signal;
    const registry = new MemoryLabRegistry();
    const ada = { platform: "teams" as const, id: ADA };
    const bob = { platform: "teams" as const, id: BOB };
    await registry.create(record("team-a", ada, [bob, { platform: "slack", id: "U0SLK" }]));
    for (const lab of ["team-a", "team-b"]) {
      await grantNamespaceAccess(azure, { subscriptionId: SUB, host: "ws", lab }, ada, signal);
    }
    await grantNamespaceAccess(azure, { subscriptionId: SUB, host: "ws", lab: "team-a" }, bob, signal);
    const steps = createDestroyPlan(
      { lab: "team-a", location: "westeurope", subscriptionId: SUB, host: "ws" },
      {
        azure: azure as unknown as AzureLabPort,
        cluster: {} as ClusterPort,
        registry,
        scheduler: { cancel: async () => {} },
        watchState: { delete: async () => {} },
        clock: new ManualClock(),
      },
    );
    expect(steps.find((s) => s.name === "forget")?.dependsOn).toContain("access-delete");
    expect(await runStep(steps, "access-delete")).toEqual({ removed: "2" });
    expect(azure.list()).toEqual([
      `${ROLE.aksClusterUser} ${ADA} ${CLUSTER}`,
      `${ROLE.aksClusterUser} ${BOB} ${CLUSTER}`,
      `${ROLE.aksRbacWriter} ${ADA} ${CLUSTER}/namespaces/lab-team-b`,
    ]);
  });
});

describe("lab grant / lab revoke at intake", () => {
  it("say whether the member list changed and give the stored record", async () => {
    const registry = new MemoryLabRegistry();
    await registry.create(record("team-a", { platform: "teams", id: ADA }));
    const clock = new ManualClock();
    const grant = { kind: "lab.grant" as const, lab: "team-a", member: BOB.toUpperCase() };
    const first = await changeMembers(grant, "teams", registry, clock);
    expect(first).toMatchObject({ ok: true, changed: true, record: { members: [{ id: BOB }] } });
    expect(await changeMembers(grant, "teams", registry, clock)).toMatchObject({ ok: true, changed: false });
    const revoke = { kind: "lab.revoke" as const, lab: "team-a", member: BOB };
    expect(await changeMembers(revoke, "teams", registry, clock)).toMatchObject({
      ok: true,
      changed: true,
      record: { members: [] },
    });
    expect(await changeMembers(revoke, "teams", registry, clock)).toMatchObject({ ok: true, changed: false });
  });
});

describe("member-intake queues the access job", () => {
  const setup = async (owner: LabRecord["owner"], host: string | undefined) => {
    const registry = new MemoryLabRegistry();
    const lab = record("team-a", owner);
    if (host === undefined) delete lab.host;
    await registry.create(lab);
    const queue = new MemoryQueue();
    const deps = { members: registry, queue, clock: new ManualClock() } as unknown as IntakeDeps;
    const log = { info: () => {}, warn: () => {}, error: () => {} } as unknown as LineLogger;
    return { queue, deps, log };
  };
  const grant = { kind: "lab.grant" as const, lab: "team-a", member: BOB };
  let seq = 0;
  /** A delivery of its own each time, from the lab's owner in its conversation. */
  const said = (platform: "teams" | "slack"): IncomingCommand => {
    seq += 1;
    const user = platform === "teams" ? { platform, id: ADA } : { platform, id: "U0ADA" };
    return {
      deliveryId: `${platform}.d${seq}`,
      correlationId: `c-${seq}`,
      origin: { address: { platform, tenant: "t", channel: "c" }, user },
      receivedAt: 0,
      parsed: { ok: true, command: grant },
    };
  };

  it("for a Teams member of a lab on a host, as the grant or revoke itself, in the lab's conversation", async () => {
    const { queue, deps, log } = await setup({ platform: "teams", id: ADA }, "ws");
    const answer = await memberChange(grant, said("teams"), deps, log);
    expect(answer.outcome.text).toMatch(
      /Their kubectl access to namespace `lab-team-a` on host `ws` follows/,
    );
    expect(queue.jobs).toEqual([
      expect.objectContaining({
        command: grant,
        deliveryId: "teams.d1",
        correlationId: "c-1",
        origin: expect.objectContaining({ user: { platform: "teams", id: ADA } }),
      }),
    ]);
    // Said again: nothing changes in the record, and the access is queued again (the way to retry it).
    await (deps.clock as ManualClock).advance(1);
    await memberChange(grant, said("teams"), deps, log);
    expect(queue.jobs).toHaveLength(2);
    const revoke = { ...grant, kind: "lab.revoke" as const };
    expect((await memberChange(revoke, said("teams"), deps, log)).outcome.text).toMatch(/is being removed/);
    expect(queue.jobs).toHaveLength(3);
    // Revoking someone who is not a member queues nothing.
    await memberChange(revoke, said("teams"), deps, log);
    expect(queue.jobs).toHaveLength(3);
  });

  it("not for a lab without a host, nor on Slack", async () => {
    const dedicated = await setup({ platform: "teams", id: ADA }, undefined);
    await memberChange(grant, said("teams"), dedicated.deps, dedicated.log);
    expect(dedicated.queue.jobs).toEqual([]);
    const slack = await setup({ platform: "slack", id: "U0ADA" }, "ws");
    const answer = await memberChange({ ...grant, member: "U0BOB" }, said("slack"), slack.deps, slack.log);
    expect(answer.outcome.text).not.toMatch(/kubectl/);
    expect(slack.queue.jobs).toEqual([]);
  });

  it("says so when the queue is unreachable, the membership kept", async () => {
    const { queue, deps, log } = await setup({ platform: "teams", id: ADA }, "ws");
    queue.failing = true;
    const answer = await memberChange(grant, said("teams"), deps, log);
    expect(answer.outcome.text).toMatch(/may now destroy.*could not be queued .*say this again in a minute/);
    expect(answer.audit.result).toBe("answered");
  });
});
