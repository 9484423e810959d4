import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry, redisHostRegistry } from "../../adapters/redis/registry.ts";
import { type EmulatedCloud, startEmulatedCloud } from "../../emulators/world.ts";
import { namespaceAccess } from "../../src/labs/namespace-access.ts";
import { roleAssignmentName } from "../../src/labs/naming.ts";
import type { RoleAssignmentSpec } from "../../src/ports/azure.ts";
import { startWorld, type World } from "../helpers/chat-world.ts";
import { waitFor } from "../helpers/env.ts";
import { teamsVisible } from "../helpers/teams-visible.ts";

/**
 * A team's kubectl access to its own namespace on a host (issue 16), through
 * the real bot, Teams and Slack emulators and the emulated Azure: a lab a
 * Teams user creates on a host gives its owner the Cluster User role on the
 * host's cluster and RBAC Writer on its namespace; `lab grant` gives a Teams
 * member theirs in a job after intake's answer, `lab revoke` takes the
 * namespace one back; `lab destroy` removes the lab's namespace assignments
 * and leaves another team's; a Slack lab on the same host assigns nothing.
 */
const HOST = "acc";
const ADMIN = { aadObjectId: "d0000000-0000-4000-8000-00000000000d", name: "Org" };
const OLIVE = { aadObjectId: "a0000000-0000-4000-8000-00000000000a", name: "Olive" };
const TOM = { aadObjectId: "c0000000-0000-4000-8000-00000000000c", name: "Tom" };
const BOB = { aadObjectId: "b0000000-0000-4000-8000-00000000000b", name: "Bob" };

describe("kubectl access to a lab's own namespace on a host", () => {
  let cloud: EmulatedCloud;
  let w: World;
  let labs: RedisLabRegistry;
  const channels: Record<string, string> = {};

  beforeAll(async () => {
    cloud = await startEmulatedCloud({ timeScale: 600 });
    w = await startWorld({ cloud, env: { LABOPS_ADMINS: `teams:${ADMIN.aadObjectId}` } });
    labs = new RedisLabRegistry(w.redis, w.prefix);
    for (const lab of ["acc-a", "acc-b"]) channels[lab] = w.teams.channel(lab);
  }, 60_000);
  afterAll(async () => {
    await w?.close();
    await cloud?.stop();
  });

  const sub = () => cloud.azure.subscriptionId;
  const assignmentIds = () =>
    new Set(
      cloud.azure
        .inventory()
        .resources.filter((r) => r.type === "Microsoft.Authorization/roleAssignments")
        .map((r) => r.id.toLowerCase()),
    );
  const idOf = (spec: RoleAssignmentSpec) =>
    `${spec.scope}/providers/Microsoft.Authorization/roleAssignments/${roleAssignmentName(spec.scope, spec.roleDefinitionId, spec.principalId)}`.toLowerCase();
  const has = (spec: RoleAssignmentSpec) => assignmentIds().has(idOf(spec));
  const access = (lab: string, who: { aadObjectId: string }) =>
    namespaceAccess(sub(), HOST, lab, who.aadObjectId);
  const inNamespace = (lab: string) =>
    [...assignmentIds()].filter((id) => id.includes(`/namespaces/lab-${lab}/providers/`));
  const ready = (lab: string) =>
    waitFor(
      async () => ((await labs.get(lab))?.state === "ready" ? true : undefined),
      `${lab} ready`,
      90_000,
    );
  const say = async (who: typeof OLIVE, lab: string, text: string, mentions: (typeof BOB)[] = []) => {
    const delivery = await w.teams.as(who).say(channels[lab] ?? "", text, {
      mentions,
      mentionAadObjectIds: true,
    });
    expect(delivery.status).toBe(200);
    return teamsVisible(await delivery.answer()).text;
  };
  const threadSays = (pattern: RegExp) =>
    waitFor(
      () => (w.teams.tenant.messages.some((m) => pattern.test(teamsVisible(m).text)) ? true : undefined),
      `a message matching ${pattern}`,
      30_000,
    );

  it("gives a Teams-created lab's owner the two assignments, and a Slack lab none", {
    timeout: 180_000,
  }, async () => {
    const hostChat = w.teams.channel("acc-host");
    const queued = await w.teams.as(ADMIN).say(hostChat, `host create ${HOST}`);
    expect(teamsVisible(await queued.answer()).text).toMatch(/^Queued `host create acc/);
    const hosts = redisHostRegistry(w.redis, w.prefix);
    await waitFor(
      async () => ((await hosts.get(HOST))?.state === "ready" ? true : undefined),
      "host",
      60_000,
    );

    expect(await say(OLIVE, "acc-a", `lab create acc-a --on ${HOST}`)).toMatch(/^Queued `lab create acc-a/);
    expect(await say(TOM, "acc-b", `lab create acc-b --on ${HOST}`)).toMatch(/^Queued `lab create acc-b/);
    const slack = await w.slack.as("U0SAM", "sam").slash("/lab", `create acc-s --on ${HOST}`, {
      channel: "C0ACCS",
    });
    expect(String(slack.body?.text)).toMatch(/^Queued `lab create acc-s/);
    for (const lab of ["acc-a", "acc-b", "acc-s"]) await ready(lab);

    expect(has(access("acc-a", OLIVE).cluster)).toBe(true);
    expect(has(access("acc-a", OLIVE).namespace)).toBe(true);
    expect(has(access("acc-b", TOM).namespace)).toBe(true);
    // Nobody was given another team's namespace.
    expect(inNamespace("acc-a")).toEqual([idOf(access("acc-a", OLIVE).namespace)]);
    // On Slack labops knows no Entra id: the step ran and assigned nothing.
    expect((await labs.get("acc-s"))?.steps?.access?.outputs).toEqual({ skipped: "no_entra_id" });
    expect(inNamespace("acc-s")).toEqual([]);
  });

  it("gives a member granted on Teams theirs in a job, and revoke takes the namespace one back", {
    timeout: 60_000,
  }, async () => {
    w.teams.as(BOB);
    const granted = await say(OLIVE, "acc-a", "lab grant acc-a <at>Bob</at>", [BOB]);
    expect(granted).toMatch(/may now destroy, extend and rotate/);
    expect(granted).toMatch(/kubectl access to namespace `lab-acc-a` on host `acc` follows/);
    await waitFor(() => (has(access("acc-a", BOB).namespace) ? true : undefined), "Bob's role", 30_000);
    expect(has(access("acc-a", BOB).cluster)).toBe(true);
    await threadSays(
      /(Bob|b0000000-0000-4000-8000-00000000000b) has kubectl access to namespace `lab-acc-a`/,
    );

    const revoked = await say(OLIVE, "acc-a", "lab revoke acc-a <at>Bob</at>", [BOB]);
    expect(revoked).toMatch(
      /is no longer a member of lab `acc-a`\. Their kubectl access .* is being removed/,
    );
    await waitFor(() => (has(access("acc-a", BOB).namespace) ? undefined : true), "Bob's role gone", 30_000);
    // The cluster-scope one stays: it opens nothing inside the cluster by itself.
    expect(has(access("acc-a", BOB).cluster)).toBe(true);
    expect(has(access("acc-a", OLIVE).namespace)).toBe(true);
    await threadSays(/no longer has kubectl access to namespace `lab-acc-a`/);
  });

  it("says in the thread when Azure refuses a grant, and the grant said again gives it", {
    timeout: 60_000,
  }, async () => {
    // ARM refuses the namespace assignment once (not retryable: one try, then the thread is told).
    cloud.azure.faults.add({
      method: "PUT",
      path: "/namespaces/lab-acc-b/providers/Microsoft.Authorization/roleAssignments/",
      status: 403,
      code: "AuthorizationFailed",
      count: 1,
    });
    await say(TOM, "acc-b", "lab grant acc-b <at>Bob</at>", [BOB]);
    await threadSays(/^Could not give .* kubectl access to namespace `lab-acc-b` \(`AuthorizationFailed`\)/);
    expect(has(access("acc-b", BOB).namespace)).toBe(false);
    const again = await say(TOM, "acc-b", "lab grant acc-b <at>Bob</at>", [BOB]);
    expect(again).toMatch(
      /is already a member of lab `acc-b`; nothing changed\. Their kubectl access .* follows/,
    );
    await waitFor(
      () => (has(access("acc-b", BOB).namespace) ? true : undefined),
      "Bob's role in acc-b",
      30_000,
    );
  });

  it("removes the lab's namespace assignments when it is destroyed, and leaves another team's", {
    timeout: 90_000,
  }, async () => {
    await say(OLIVE, "acc-a", "lab grant acc-a <at>Bob</at>", [BOB]);
    await waitFor(() => (has(access("acc-a", BOB).namespace) ? true : undefined), "Bob's role", 30_000);
    expect(await say(OLIVE, "acc-a", "lab destroy acc-a --yes")).toMatch(/^Queued `lab destroy acc-a/);
    await waitFor(async () => ((await labs.get("acc-a")) ? undefined : true), "acc-a forgotten", 60_000);
    expect(inNamespace("acc-a")).toEqual([]);
    expect(has(access("acc-b", TOM).namespace)).toBe(true);
    expect(has(access("acc-b", TOM).cluster)).toBe(true);
  });
});
