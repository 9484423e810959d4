import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { startWorld, type World } from "../helpers/chat-world.ts";
import { labRecord } from "../helpers/lab-record.ts";
import { teamsVisible } from "../helpers/teams-visible.ts";

/**
 * The caps of issue 14 through the real adapters: signed Slack slash
 * commands and Teams messages with Bot Framework tokens, the real intake,
 * the caps script and BullMQ in Redis. The world runs 20 times faster than
 * Azure, so a lab's 24 hours are 72 minutes here.
 */

const TIME_SCALE = 20;
const MAX_LABS = 14;

describe("caps at intake, through Slack and Teams", () => {
  let w: World;

  beforeAll(async () => {
    w = await startWorld({
      timeScale: TIME_SCALE,
      env: {
        // Intake alone: queued jobs stay queued, and each create keeps the name it holds.
        LABOPS_ROLE: "web",
        LABOPS_MAX_LABS_PER_USER: "2",
        LABOPS_MAX_LABS_PER_CONVERSATION: "3",
        LABOPS_MAX_LABS: String(MAX_LABS),
        LABOPS_MAX_COMMANDS_PER_MINUTE: "20",
        LABOPS_MAX_LAB_LIFETIME: "24h",
        LABOPS_ADMINS: "slack:U0ROOT",
      },
    });
  });
  afterAll(async () => {
    await w?.close();
  });

  const text = (body: Record<string, unknown> | undefined) => String(body?.text ?? "");

  it("queues two of 300 `lab create` sent at once by one person, and tells the rest why", {
    timeout: 60_000,
  }, async () => {
    const flood = w.slack.as("U0FLOOD", "flood");
    const before = await w.jobCount();
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        flood.slash("/lab", `create fl-${i} --ttl 7d`, { channel: "C0FLOOD" }),
      ),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect((await w.jobCount()) - before).toBe(2);
    const queued = answers.map((a) => text(a.body)).filter((t) => t.startsWith("Queued"));
    expect(queued).toHaveLength(2);
    const names = queued.map((t) => /lab create (fl-\d+)/.exec(t)?.[1]).sort();
    const refusals = answers.map((a) => text(a.body)).filter((t) => !t.startsWith("Queued"));
    expect(refusals).toHaveLength(298);
    for (const refusal of refusals) {
      expect(refusal).toMatch(
        /^You already have 2 live labs \(`fl-\d+`, `fl-\d+`\), the most one person may have \(LABOPS_MAX_LABS_PER_USER=2\);.* Nothing was queued\. Destroy one with `\/lab destroy NAME`, or ask an admin \(LABOPS_ADMINS\) to create `fl-\d+`\.$/,
      );
      expect([...refusal.matchAll(/`(fl-\d+)`, `(fl-\d+)`/g)].flatMap((m) => [m[1], m[2]]).sort()).toEqual(
        names,
      );
    }
  });

  it("gives a name created at once from three conversations on two platforms to one of them", {
    timeout: 30_000,
  }, async () => {
    const before = await w.jobCount();
    const channel = w.teams.channel("race-teams");
    const [slackA, slackB, teams] = await Promise.all([
      w.slack.as("U0RACEA", "ra").slash("/lab", "create race-a", { channel: "C0RACEA" }),
      w.slack.as("U0RACEB", "rb").slash("/lab", "create race-a", { channel: "C0RACEB" }),
      w.teams.as({ aadObjectId: "aad-racer", name: "Racer" }).say(channel, "lab create race-a"),
    ]);
    const teamsText = teamsVisible(await teams.answer()).text;
    const all = [text(slackA.body), text(slackB.body), teamsText];
    expect(all.filter((t) => t.startsWith("Queued"))).toHaveLength(1);
    const refused = all.filter((t) => !t.startsWith("Queued"));
    expect(refused).toHaveLength(2);
    for (const t of refused) expect(t).toContain("Lab `race-a` belongs to another conversation");
    expect((await w.jobCount()) - before).toBe(1);
  });

  it("refuses to extend a lab past its whole lifetime, saying when it ends; extends one with time left", {
    timeout: 30_000,
  }, async () => {
    const registry = new RedisLabRegistry(w.redis, w.prefix);
    const owner = { platform: "slack" as const, id: "U0EXT" };
    const address = { platform: "slack" as const, tenant: w.slack.workspace.team, channel: "C0EXT" };
    const lifetime = (24 * 3_600_000) / TIME_SCALE;
    const createdAt = Date.now() - lifetime / 2;
    await registry.create({
      ...labRecord("ext-old", owner, address),
      createdAt,
      expiresAt: createdAt + lifetime,
    });
    await registry.create({
      ...labRecord("ext-new", owner, address),
      createdAt,
      expiresAt: Date.now() + 60_000,
    });
    const ext = w.slack.as("U0EXT", "ext");
    const before = await w.jobCount();
    const refused = await ext.slash("/lab", "extend ext-old --by 4h", { channel: "C0EXT" });
    expect(text(refused.body)).toMatch(
      /^Lab `ext-old` cannot be extended: a lab lives at most 1d from its creation \(LABOPS_MAX_LAB_LIFETIME\), so it ends \d{4}-\d\d-\d\d \d\d:\d\d UTC\. Nothing was queued\./,
    );
    // Even an admin: the lifetime protects the subscription.
    const root = await w.slack.as("U0ROOT", "root").slash("/lab", "extend ext-old", { channel: "C0EXT" });
    expect(text(root.body)).toMatch(/^Lab `ext-old` cannot be extended/);
    expect(await w.jobCount()).toBe(before);
    expect(text((await ext.slash("/lab", "extend ext-new --by 4h", { channel: "C0EXT" })).body)).toMatch(
      /^Queued/,
    );
  });

  it("holds back one person's commands past the rate, not an admin's", { timeout: 30_000 }, async () => {
    const busy = w.slack.as("U0BUSY", "busy");
    const before = await w.jobCount();
    const answers = await Promise.all(
      Array.from({ length: 25 }, () => busy.slash("/lab", "list", { channel: "C0BUSY" })),
    );
    const refused = answers.map((a) => text(a.body)).filter((t) => !t.startsWith("Queued"));
    expect(refused).toHaveLength(5);
    for (const t of refused) {
      expect(t).toMatch(
        /^You have sent 20 commands in the last minute, the most labops takes from one person \(LABOPS_MAX_COMMANDS_PER_MINUTE=20\)\. Nothing was done; try again in \d+ s\.$/,
      );
    }
    const root = w.slack.as("U0ROOT", "root");
    const admin = await Promise.all(
      Array.from({ length: 25 }, () => root.slash("/lab", "list", { channel: "C0BUSY" })),
    );
    expect(admin.every((a) => text(a.body).startsWith("Queued"))).toBe(true);
    expect((await w.jobCount()) - before).toBe(20 + 25);
  });

  it("lets an admin past the per-person and per-conversation caps, not past LABOPS_MAX_LABS", {
    timeout: 30_000,
  }, async () => {
    const root = w.slack.as("U0ROOT", "root");
    const answers: string[] = [];
    for (let i = 0; i < MAX_LABS + 1; i++) {
      answers.push(text((await root.slash("/lab", `create adm-${i}`, { channel: "C0ADMIN" })).body));
    }
    // More than 2 (per person) and 3 (per conversation) are queued; then the cap on all labs holds.
    const queued = answers.filter((t) => t.startsWith("Queued")).length;
    expect(queued).toBeGreaterThan(3);
    const refusal = answers.find((t) => !t.startsWith("Queued"));
    expect(refusal).toBe(
      `labops already runs ${MAX_LABS} live labs, the most it may run at once (LABOPS_MAX_LABS=${MAX_LABS}); every lab not yet destroyed counts. Nothing was queued. Ask an admin (LABOPS_ADMINS) to destroy labs no longer used (\`lab list\` shows them), then try again.`,
    );
    expect(answers.slice(answers.indexOf(refusal ?? "")).every((t) => t === refusal)).toBe(true);
  });
});
