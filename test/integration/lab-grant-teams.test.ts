import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import type { TeamsMessage } from "../../emulators/teams/index.ts";
import { startWorld, TEAMS_TENANT, type World } from "../helpers/chat-world.ts";
import { labRecord } from "../helpers/lab-record.ts";
import { teamsVisible } from "../helpers/teams-visible.ts";

/**
 * `lab grant` and `lab revoke` (issue 16) on Microsoft Teams, through signed
 * activities, the real intake and the Redis registry. The member is named by
 * an @mention as Teams sends it: a mention entity with the user's `29:` id
 * and name and no AAD object id, which the bot looks up through the Bot
 * Connector (GET /v3/conversations/{team}/members/{29:…}).
 */
describe("lab grant / lab revoke through Teams", () => {
  let w: World;
  const owner = { aadObjectId: "a0000000-0000-4000-8000-00000000000a", name: "Olive Owner" };
  const bob = { aadObjectId: "b0000000-0000-4000-8000-00000000000b", name: "Bob" };
  // Never acts in the tenant: not a member of the team, so the Bot Connector does not find them.
  const stranger = { aadObjectId: "c0000000-0000-4000-8000-00000000000c", name: "Stranger" };

  beforeAll(async () => {
    // Intake alone: queued jobs stay queued.
    w = await startWorld({
      slack: false,
      env: { LABOPS_ROLE: "web", LABOPS_ADMINS: "teams:d0000000-0000-4000-8000-00000000000d" },
    });
  });
  afterAll(async () => {
    await w?.close();
  });

  const said = async (who: typeof owner, conversation: string, text: string, mentions = [bob]) => {
    const delivery = await w.teams.as(who).say(conversation, text, { mentions });
    expect(delivery.status).toBe(200);
    return delivery.answer();
  };
  const text = (m: TeamsMessage) => teamsVisible(m).text;
  const memberLookups = () =>
    w.teams.tenant.calls.filter((c) => c.method === "GET" && /\/members\//.test(c.path));

  it("lets a member granted by @mention rotate, and no longer once revoked", {
    timeout: 40_000,
  }, async () => {
    const registry = new RedisLabRegistry(w.redis, w.prefix);
    const channel = w.teams.channel("grant-team");
    const address = {
      platform: "teams" as const,
      tenant: TEAMS_TENANT,
      channel,
      serviceUrl: w.teams.serviceUrl,
    };
    await registry.create(labRecord("grant-t", { platform: "teams", id: owner.aadObjectId }, address));
    w.teams.as(bob); // Bob is in the team.
    const rotate = () => said(bob, channel, "secret rotate color --lab grant-t", []);

    expect(text(await rotate())).toMatch(/^Only .*, who created `grant-t`/);

    // From another conversation, even the owner's grant is refused and nothing is written.
    const elsewhere = await said(owner, w.teams.channel("grant-elsewhere"), "lab grant grant-t <at>Bob</at>");
    expect(text(elsewhere)).toMatch(/belongs to another conversation/);
    expect((await registry.get("grant-t"))?.members).toBeUndefined();

    // Someone the Bot Connector does not find in the team: one clear refusal, nothing changed.
    const outside = await said(owner, channel, "lab grant grant-t <at>Stranger</at>", [stranger]);
    expect(text(outside)).toMatch(/^Name the member by mentioning them/);
    expect(memberLookups().at(-1)?.status).toBe(404);
    expect((await registry.get("grant-t"))?.members).toBeUndefined();

    const before = await w.jobCount();
    const lookupsBefore = memberLookups().length;
    const granted = await said(owner, channel, "lab grant grant-t <at>Bob</at>");
    // Named as the mention showed them, not by their object id.
    expect(text(granted)).toMatch(/^Bob may now destroy, extend and rotate/);
    expect(memberLookups().slice(lookupsBefore)).toEqual([
      expect.objectContaining({
        status: 200,
        path: expect.stringContaining(encodeURIComponent(w.teams.userId(bob))),
      }),
    ]);
    expect(await w.jobCount()).toBe(before);
    expect((await registry.get("grant-t"))?.members).toEqual([
      { platform: "teams", id: bob.aadObjectId, name: "Bob" },
    ]);

    // Bob may rotate now: the form opens, and what he submits is queued.
    const form = await rotate();
    const submitted = await w.teams
      .as(bob)
      .execute(form, "secret.rotate.submit", { data: { value: "orange" } });
    expect(JSON.stringify(submitted.body)).toMatch(/Queued/);
    expect(await w.jobCount()).toBe(before + 1);

    // A member may not grant others.
    const byBob = await said(bob, channel, "lab grant grant-t <at>Olive Owner</at>", [owner]);
    expect(text(byBob)).toMatch(/^Only .* or an admin can grant access/);

    const revoked = await said(owner, channel, "lab revoke grant-t <at>Bob</at>");
    expect(text(revoked)).toMatch(/is no longer a member of lab `grant-t`/);
    expect((await registry.get("grant-t"))?.members).toEqual([]);
    expect(text(await rotate())).toMatch(/^Only .*, who created `grant-t`/);
  });

  it("reads a mention that carries the AAD object id without a lookup", { timeout: 20_000 }, async () => {
    const registry = new RedisLabRegistry(w.redis, w.prefix);
    const channel = w.teams.channel("grant-direct");
    const address = {
      platform: "teams" as const,
      tenant: TEAMS_TENANT,
      channel,
      serviceUrl: w.teams.serviceUrl,
    };
    await registry.create(labRecord("grant-d", { platform: "teams", id: owner.aadObjectId }, address));
    const lookupsBefore = memberLookups().length;
    const delivery = await w.teams
      .as(owner)
      .say(channel, "lab grant grant-d <at>Bob</at>", { mentions: [bob], mentionAadObjectIds: true });
    expect(text(await delivery.answer())).toMatch(/may now destroy, extend and rotate/);
    expect(memberLookups().length).toBe(lookupsBefore);
    expect((await registry.get("grant-d"))?.members).toEqual([
      { platform: "teams", id: bob.aadObjectId, name: "Bob" },
    ]);
  });

  it("in a personal chat, looks the user up in that chat, where only its user is", {
    timeout: 20_000,
  }, async () => {
    const chat = w.teams.personalChat(owner);
    const answer = await said(owner, chat, "lab grant grant-t <at>Bob</at>");
    expect(text(answer)).toMatch(/^Name the member by mentioning them/);
    expect(memberLookups().at(-1)).toMatchObject({
      status: 404,
      path: expect.stringContaining(`/conversations/${encodeURIComponent(chat)}/members/`),
    });
  });

  it("leaves the mention as typed when the lookup times out", { timeout: 20_000 }, async () => {
    const registry = new RedisLabRegistry(w.redis, w.prefix);
    const channel = w.teams.channel("grant-slow");
    const address = {
      platform: "teams" as const,
      tenant: TEAMS_TENANT,
      channel,
      serviceUrl: w.teams.serviceUrl,
    };
    await registry.create(labRecord("grant-s", { platform: "teams", id: owner.aadObjectId }, address));
    w.teams.tenant.memberLookupDelayMs = 10_000;
    try {
      const answer = await said(owner, channel, "lab grant grant-s <at>Bob</at>");
      expect(text(answer)).toMatch(/^Name the member by mentioning them/);
    } finally {
      w.teams.tenant.memberLookupDelayMs = 0;
    }
    expect((await registry.get("grant-s"))?.members).toBeUndefined();
  });
});
