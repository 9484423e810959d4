import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAzurePorts } from "../../app/workflows.ts";
import type { SlackMessage } from "../../emulators/slack/web-api.ts";
import { loadConfig } from "../../src/config.ts";
import { ExternalError } from "../../src/errors.ts";
import { labNames } from "../../src/labs/naming.ts";
import { type BotWorld, cardOf, slackChannel, startBotWorld } from "../helpers/bot-world.ts";
import { waitFor } from "../helpers/env.ts";

const TIME_SCALE = 600;
const CHANNEL = "C0QUOTA";

/**
 * Issue 15's "done when", against the emulators: the bot reads the quota and
 * the VM sizes through @azure/arm-compute, refuses within seconds what would
 * not fit, counts labs in flight, and shows what each lab costs.
 */
describe("pre-flight and cost: quotas and VM sizes checked before a lab creates anything", () => {
  let w: BotWorld;
  const { say, rootsTitled } = slackChannel(() => w, CHANNEL, { id: "U0QUOTA", name: "ada" });

  beforeAll(async () => {
    w = await startBotWorld(TIME_SCALE);
    // `npm run emulators -- --quota cores=10`, set through the emulator's API.
    w.world.cloud.azure.compute.setQuota("cores", 10);
  });
  afterAll(async () => {
    await w?.stop();
  });

  const ready = (lab: string) =>
    waitFor(
      async () => ((await w.registry.get(lab))?.state === "ready" ? true : undefined),
      `lab ${lab} to be ready`,
      60_000,
      50,
    );
  const notice = (pattern: RegExp) =>
    w.world.slack.messages.find((m) => m.ephemeral && m.channel === CHANNEL && pattern.test(m.text));
  const resourcesOf = (lab: string) =>
    w.world.cloud.azure.inventory().resources.filter((r) => r.id.includes(`lab-${lab}-`));

  /** Sends `lab create NAME` and waits for the refusal; returns its text and how long it took. */
  async function refused(lab: string): Promise<{ text: string; ms: number }> {
    const started = performance.now();
    expect(await say("/lab", `create ${lab}`)).toMatch(new RegExp(`^Queued \`lab create ${lab}\``));
    const m = await waitFor(
      () => notice(new RegExp(`^Lab \`${lab}\` was not created`)),
      `the refusal of ${lab}`,
      10_000,
      20,
    );
    return { text: m.text, ms: performance.now() - started };
  }

  it("checks the configured location and VM size when the worker starts", async () => {
    const line = await waitFor(
      () => w.logs.entries().find((e) => String(e.msg).startsWith("startup.lab_settings")),
      "the start-up check's log line",
    );
    expect(line).toMatchObject({
      level: "info",
      location: "centralus",
      vmSize: "Standard_B2s",
      status: "ok",
    });
  });

  it("builds two labs of 2 × Standard_B2s under cores=10, each card showing its hourly estimate", {
    timeout: 90_000,
  }, async () => {
    await Promise.all([say("/lab", "create team-a"), say("/lab", "create team-b")]);
    await Promise.all([ready("team-a"), ready("team-b")]);
    expect(w.world.cloud.azure.compute.inUse("centralus")).toMatchObject({ cores: 8 });
    for (const lab of ["team-a", "team-b"]) {
      const [card] = rootsTitled(new RegExp(`Lab ${lab}`));
      await waitFor(
        () => (/is ready/.test(card?.text ?? "") ? true : undefined),
        `${lab}'s card to say ready`,
      );
      expect(cardOf(card as SlackMessage)).toMatch(/Cost.*≈ \$0\.17\/h/);
    }
  });

  it("refuses the third within 5 s, naming the regional quota, what is needed and what is left; nothing of it exists", async () => {
    const { text, ms } = await refused("team-c");
    expect(ms).toBeLessThan(5_000);
    expect(text).toContain(
      "it needs 4 vCPUs (2 × `Standard_B2s`, 2 vCPUs each) of the *Total Regional vCPUs* quota (`cores`) in `centralus`, and 2 are left (limit 10, 8 in use).",
    );
    expect(text).toContain(
      "https://portal.azure.com/#view/Microsoft_Azure_Capacity/QuotaMenuBlade/~/myQuotas",
    );
    expect(text).toContain("a smaller lab: one node (2 vCPUs) fits");
    expect(resourcesOf("team-c")).toEqual([]);
    expect(await w.registry.get("team-c")).toBeUndefined();
    expect(rootsTitled(/Lab team-c/)).toEqual([]);
  });

  it("shows each lab's hourly estimate and the total of live labs in `lab list`, and the cost so far in `lab status`", async () => {
    await say("/lab", "list");
    const list = await waitFor(() => rootsTitled(/^2 labs/).at(-1), "the lab list");
    expect(list.text).toMatch(/\*team-a\* · ready · .* · ≈ \$0\.17\/h/);
    expect(list.text).toMatch(/\*team-b\* · ready · .* · ≈ \$0\.17\/h/);
    expect(list.text).toContain("*Total* ≈ $0.33/h for 2 live labs");
    await say("/lab", "status team-a");
    const status = await waitFor(() => rootsTitled(/^Lab team-a: ready/).at(-1), "the status card");
    expect(cardOf(status)).toMatch(/Cost.*≈ \$0\.17\/h · about \$\d+\.\d\d so far/);
  });

  it("refuses a lab of a size the subscription may not use, naming the size", async () => {
    const compute = w.world.cloud.azure.compute;
    compute.setQuota("cores", 100);
    compute.restrictSize("Standard_B2s");
    try {
      const { text, ms } = await refused("team-d");
      expect(ms).toBeLessThan(5_000);
      expect(text).toContain(
        "the VM size `Standard_B2s` is not available to this subscription in `centralus` (NotAvailableForSubscription).",
      );
      expect(text).toMatch(/LABOPS_VM_SIZE \(offered here: `Standard_B2ms`/);
      expect(resourcesOf("team-d")).toEqual([]);
    } finally {
      compute.restrictSize("Standard_B2s", false);
    }
  });

  it("counts labs in flight: three creates sent at once with room for two, one is refused", {
    timeout: 90_000,
  }, async () => {
    // 8 in use: room for exactly two more labs of 4 vCPUs.
    w.world.cloud.azure.compute.setQuota("cores", 16);
    const labs = ["team-x", "team-y", "team-z"];
    await Promise.all(labs.map((lab) => say("/lab", `create ${lab}`)));
    const refusal = await waitFor(
      () => notice(/^Lab `team-[xyz]` was not created/),
      "one refusal",
      10_000,
      20,
    );
    const refusedLab = /^Lab `(team-[xyz])`/.exec(refusal.text)?.[1] ?? "";
    expect(refusal.text).toMatch(/held by [12] labs? being created/);
    expect(refusal.text).toContain("fewer labs at once");
    const built = labs.filter((l) => l !== refusedLab);
    await Promise.all(built.map((lab) => ready(lab)));
    expect(
      w.world.slack.messages.filter(
        (m) => m.ephemeral && /was not created/.test(m.text) && /team-[xyz]/.test(m.text),
      ),
    ).toHaveLength(1);
    expect(resourcesOf(refusedLab)).toEqual([]);
    expect(w.world.cloud.azure.compute.inUse("centralus")).toMatchObject({ cores: 16 });
  });

  it("without the pre-flight, the cluster create itself fails with Azure's quota error", async () => {
    // What a bot that skips the check meets: AKS's QuotaExceeded, minutes into the create in Azure.
    const config = loadConfig(w.world.env());
    const { azure } = createAzurePorts(config);
    const names = labNames("team-q");
    await azure.ensureResourceGroup(names.resourceGroup, "centralus", {}, new AbortController().signal);
    const error = await azure
      .ensureCluster(
        {
          resourceGroup: names.resourceGroup,
          name: names.cluster,
          location: "centralus",
          nodeCount: 2,
          vmSize: "Standard_B2s",
          rotationPollInterval: "1m",
          tags: {},
        },
        new AbortController().signal,
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExternalError);
    expect((error as ExternalError).code).toBe("QuotaExceeded");
    expect((error as ExternalError).message).toContain(
      "Provisioning of resource(s) for container service lab-team-q-aks in resource group lab-team-q-rg failed. Message: Operation could not be completed as it results in exceeding approved Total Regional Cores quota.",
    );
    expect((error as ExternalError).hint).toMatch(/vCPU quota/);
    await azure.deleteResourceGroup(names.resourceGroup, new AbortController().signal);
  });
});

describe("start-up check with a location Azure does not offer", () => {
  let w: BotWorld;
  beforeAll(async () => {
    w = await startBotWorld(TIME_SCALE, { env: { AZURE_LOCATION: "atlantis" } });
  });
  afterAll(async () => {
    await w?.stop();
  });

  it("logs a clear warning naming the setting", async () => {
    const line = await waitFor(
      () => w.logs.entries().find((e) => String(e.msg).startsWith("startup.lab_settings")),
      "the start-up check's log line",
    );
    expect(line).toMatchObject({ level: "warn", status: "warning" });
    expect(String(line.msg)).toContain(
      "AZURE_LOCATION=atlantis: Azure offers no VM size to this subscription there",
    );
  });
});
