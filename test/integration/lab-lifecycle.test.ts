import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BotWorld, slackChannel, startBotWorld } from "../helpers/bot-world.ts";
import { waitFor } from "../helpers/env.ts";

// 30 minutes of lab lifetime are three seconds here.
const TIME_SCALE = 600;

describe("lab lifecycle: a failed create retried from chat, and expiry", () => {
  let w: BotWorld;
  const retry = slackChannel(() => w, "C0RETRY", { id: "U0OWNER", name: "ada" });
  const expire = slackChannel(() => w, "C0EXPIRE", { id: "U0OWNER", name: "ada" });
  const broken = slackChannel(() => w, "C0BROKEN", { id: "U0OWNER", name: "ada" });
  const extended = slackChannel(() => w, "C0EXTENDED", { id: "U0OWNER", name: "ada" });

  beforeAll(async () => {
    w = await startBotWorld(TIME_SCALE, { logLevel: "silent" });
  });

  afterAll(async () => {
    await w?.stop();
  });

  const state = async (lab: string, wanted: string) =>
    (await w.registry.get(lab))?.state === wanted ? w.registry.get(lab) : undefined;

  it("reports a failed step with Azure's code and a hint, and resumes there when retried", {
    timeout: 90_000,
  }, async () => {
    // The identity cannot be created until the fault is lifted: the plan fails at step mi.
    w.world.cloud.azure.faults.add({
      method: "PUT",
      path: "userAssignedIdentities/lab-team-r-mi$",
      status: 403,
      code: "AuthorizationFailed",
      count: 1_000,
    });
    await retry.say("/lab", "create team-r --ttl 7d");
    const failed = await waitFor(() => state("team-r", "failed"), "the lab to fail", 60_000);
    expect(failed?.lastError).toMatchObject({ step: "mi", code: "AuthorizationFailed" });
    const [card] = retry.roots();
    await waitFor(
      () => (/failed at mi/.test(card?.text ?? "") ? true : undefined),
      "the card to show the failure",
    );
    const cardJson = JSON.stringify(card?.blocks);
    expect(cardJson).toContain("AuthorizationFailed");
    expect(cardJson).toMatch(/Contributor/); // the hint
    expect(cardJson).toContain('"action_id":"lab.retry"');
    const doneBefore = Object.keys(failed?.steps ?? {});
    expect(doneBefore).toEqual(expect.arrayContaining(["rg", "kv"]));

    w.world.cloud.azure.faults.clear();
    await retry.say("/lab", "create team-r");
    const ready = await waitFor(() => state("team-r", "ready"), "the retried lab to be ready", 60_000);
    expect(Object.keys(ready?.steps ?? {})).toHaveLength(12);
    // Same thread, same card: the retry continued it.
    expect(retry.roots().filter((m) => /Lab team-r/.test(m.text))).toHaveLength(1);
    await waitFor(
      () =>
        card && retry.replies(card).some((m) => /Retrying from where it stopped/.test(m.text))
          ? true
          : undefined,
      "the retry note in the thread",
    );
    // The resource group and vault were made once, by the first run.
    const counts = w.world.cloud.azure.inventory().counts;
    expect(counts["Microsoft.KeyVault/vaults"]?.created).toBe(1);
  });

  it("reminds the channel before expiry and destroys the lab at expiry", { timeout: 90_000 }, async () => {
    await expire.say("/lab", "create team-e --ttl 30m");
    await waitFor(() => state("team-e", "ready"), "the lab to be ready", 60_000);
    const [card] = expire.roots();
    expect(card).toBeDefined();
    const reminder = await waitFor(
      () => (card ? retry.replies(card).find((m) => /expires/.test(m.text)) : undefined),
      "the expiry reminder in the lab's thread",
      30_000,
    );
    expect(JSON.stringify(reminder.blocks)).toContain('"action_id":"lab.extend"');
    expect(JSON.stringify(reminder.blocks)).toMatch(/This lab has cost about \$\d+\.\d+ so far\./);
    await waitFor(
      async () => ((await w.registry.get("team-e")) === undefined ? true : undefined),
      "the lab to expire",
      60_000,
    );
    const inventory = w.world.cloud.azure.inventory();
    expect(inventory.resources.filter((r) => r.id.includes("lab-team-e"))).toEqual([]);
    await waitFor(
      () => expire.roots().find((m) => /Lab team-e is destroyed/.test(m.text)),
      "the destroy card in the lab's channel",
    );
  });

  it("destroys a lab that failed half-built at its expiry: nothing of it left in Azure", {
    timeout: 90_000,
  }, async () => {
    // The cluster can never be created: the plan fails after the resource group, vault and identity exist.
    w.world.cloud.azure.faults.add({
      method: "PUT",
      path: "managedClusters/lab-team-f-aks$",
      status: 403,
      code: "AuthorizationFailed",
      count: 1_000,
    });
    // An hour is six seconds here: long enough for the create to fail before the lab expires.
    await broken.say("/lab", "create team-f --ttl 1h");
    const failed = await waitFor(() => state("team-f", "failed"), "the lab to fail", 60_000);
    expect(failed?.lastError).toMatchObject({ code: "AuthorizationFailed" });
    expect(Object.keys(failed?.steps ?? {})).toEqual(expect.arrayContaining(["rg", "kv"]));
    const left = () => w.world.cloud.azure.inventory().resources.filter((r) => r.id.includes("lab-team-f"));
    expect(left().length).toBeGreaterThan(0);

    await waitFor(
      async () => ((await w.registry.get("team-f")) === undefined ? true : undefined),
      "the failed lab to expire",
      60_000,
    );
    expect(left()).toEqual([]);
    await waitFor(
      () => broken.roots().find((m) => /Lab team-f is destroyed/.test(m.text)),
      "the destroy card in the lab's channel",
    );
    w.world.cloud.azure.faults.clear();
  });

  it("expires a failed lab at its new time when it was extended", { timeout: 90_000 }, async () => {
    w.world.cloud.azure.faults.add({
      method: "PUT",
      path: "managedClusters/lab-team-x-aks$",
      status: 403,
      code: "AuthorizationFailed",
      count: 1_000,
    });
    // Two hours are twelve seconds here: the create fails, and is extended, well before that.
    await extended.say("/lab", "create team-x --ttl 2h");
    const failed = await waitFor(() => state("team-x", "failed"), "the lab to fail", 60_000);
    expect(await extended.say("/lab", "extend team-x --by 1h")).toMatch(/^Queued `lab extend team-x/);
    await waitFor(
      async () => ((await w.registry.get("team-x"))?.expiresAt ?? 0) > (failed?.expiresAt ?? 0) || undefined,
      "the extend to move the expiry",
    );
    await waitFor(
      async () => ((await w.registry.get("team-x")) === undefined ? true : undefined),
      "the extended failed lab to expire",
      60_000,
    );
    expect(w.world.cloud.azure.inventory().resources.filter((r) => r.id.includes("lab-team-x"))).toEqual([]);
    w.world.cloud.azure.faults.clear();
  });
});
