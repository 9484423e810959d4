import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAzureClients } from "../../adapters/azure/clients.ts";
import { createAzureCredential } from "../../adapters/azure/credential.ts";
import { ArmLabAzure } from "../../adapters/azure/lab-azure.ts";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { type EmulatedCloud, startEmulatedCloud } from "../../emulators/world.ts";
import { systemClock } from "../../src/clock.ts";
import { labRef } from "../../src/labs/names.ts";
import { startWorld, type World } from "../helpers/chat-world.ts";
import { waitFor } from "../helpers/env.ts";
import { labRecord } from "../helpers/lab-record.ts";
import { slackVisible } from "../helpers/slack-visible.ts";

/**
 * Issue 14, finding 1: labs were once stored under names the parser refuses
 * (`Zz-UPPER` with a real resource group `lab-Zz-UPPER-rg`, `../etc`), and
 * nothing could destroy them. An admin names such a lab by the reference
 * `lab list` shows (`lab destroy #1a2b3c4d`), from any conversation; the
 * destroy deletes what Azure has under its name and says when there is none.
 */
describe("an admin removes a lab whose stored name is not valid", () => {
  let cloud: EmulatedCloud;
  let w: World;
  let azure: ArmLabAzure;
  let registry: RedisLabRegistry;
  const upper = "Zz-UPPER";
  const path = "../etc";
  const signal = new AbortController().signal;

  beforeAll(async () => {
    cloud = await startEmulatedCloud({ timeScale: 600 });
    w = await startWorld({ cloud, env: { LABOPS_ADMINS: "slack:U0ADM" } });
    const emu = cloud.azure;
    const credential = createAzureCredential({
      tenantId: emu.tenantId,
      clientId: emu.bot.clientId,
      clientSecret: emu.bot.clientSecret,
      authorityHost: emu.authorityHost,
      caPem: emu.caPem,
    });
    azure = new ArmLabAzure({
      clients: createAzureClients({
        endpoint: emu.armEndpoint,
        credential,
        subscriptionId: emu.subscriptionId,
        caPem: emu.caPem,
      }),
      credential,
      subscriptionId: emu.subscriptionId,
      tenantId: emu.tenantId,
      armEndpoint: emu.armEndpoint,
      clock: systemClock(),
    });
    registry = new RedisLabRegistry(w.redis, w.prefix);
    const where = { platform: "slack" as const, tenant: "T0001", channel: "C0MAL" };
    for (const name of [upper, path]) {
      await registry.create(labRecord(name, { platform: "slack", id: "U0MAL" }, where, "failed"));
    }
    await azure.ensureResourceGroup(`lab-${upper}-rg`, emu.location, {}, signal);
  }, 60_000);
  afterAll(async () => {
    await w?.close();
    await cloud?.stop();
  });

  it("refuses the reference to anyone but an admin, and the name to everyone", async () => {
    const mal = w.slack.as("U0MAL", "mal");
    const byRef = await mal.slash("/lab", `destroy ${labRef(upper)} --yes`, { channel: "C0MAL" });
    expect(String(byRef.body?.text)).toMatch(
      /^Only an admin \(LABOPS_ADMINS\) can destroy a lab by its reference/,
    );
    const byName = await mal.slash("/lab", `destroy ${upper}`, { channel: "C0MAL" });
    expect(String(byName.body?.text)).toMatch(/is not a valid lab name/);
    expect(await registry.get(upper)).toBeDefined();
  });

  it("lists such a lab with its reference, and destroys it, its resource group with it", {
    timeout: 60_000,
  }, async () => {
    const admin = w.slack.as("U0ADM", "admin");
    await admin.slash("/lab", "list", { channel: "C0ADM" });
    const list = await waitFor(
      () =>
        w.slack.workspace
          .conversation("C0ADM")
          .find((m) => !m.ephemeral && /not a valid name/.test(slackVisible(m).text)),
      "the lab list",
      20_000,
    );
    expect(slackVisible(list).text).toContain(`(not a valid name; \`lab destroy ${labRef(upper)}\`)`);

    const queued = await admin.slash("/lab", `destroy ${labRef(upper)} --yes`, { channel: "C0ADM" });
    expect(String(queued.body?.text)).toMatch(/^Queued `lab destroy Zz-UPPER`/);
    await waitFor(
      async () => ((await registry.get(upper)) ? undefined : true),
      "the record to go",
      45_000,
      100,
    );
    expect(await azure.getResourceGroup(`lab-${upper}-rg`, signal)).toBeUndefined();
    await waitFor(
      () => w.slack.workspace.messages.find((m) => /Lab `Zz-UPPER` is gone/.test(m.text)),
      "the destroy's last word",
    );
  });

  it("forgets a lab whose name Azure never took, and says nothing is left", { timeout: 60_000 }, async () => {
    const admin = w.slack.as("U0ADM", "admin");
    const asked = await admin.slash("/lab", `destroy ${labRef(path)}`, { channel: "C0ADM" });
    expect(String(asked.body?.text)).toMatch(
      new RegExp(`^Destroy lab \`\\.\\./etc\`\\? .* or say \`/lab destroy ${labRef(path)} --yes\``),
    );
    await admin.slash("/lab", `destroy ${labRef(path)} --yes`, { channel: "C0ADM" });
    await waitFor(
      async () => ((await registry.get(path)) ? undefined : true),
      "the record to go",
      45_000,
      100,
    );
    const last = await waitFor(
      () => w.slack.workspace.messages.find((m) => /is forgotten/.test(m.text)),
      "the destroy's last word",
    );
    expect(last.text).toMatch(/nothing was ever created in Azure under it: nothing is left/);
  });
});
