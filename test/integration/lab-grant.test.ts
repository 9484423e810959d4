import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLabRegistry, ScriptedLabUpdates } from "../../adapters/redis/registry.ts";
import { startWorld, type World } from "../helpers/chat-world.ts";
import { labRecord } from "../helpers/lab-record.ts";

/**
 * `lab grant` and `lab revoke` (issue 16) through signed Slack slash
 * commands, the real intake and the Redis registry: a team member is refused
 * a rotation until the owner grants them, and again after a revoke; a grant
 * from another conversation changes nothing.
 */
describe("lab grant / lab revoke through Slack", () => {
  let w: World;

  beforeAll(async () => {
    // Intake alone: queued jobs stay queued.
    w = await startWorld({ env: { LABOPS_ROLE: "web", LABOPS_ADMINS: "slack:U0ROOT" } });
  });
  afterAll(async () => {
    await w?.close();
  });

  const text = (body: Record<string, unknown> | undefined) => String(body?.text ?? "");

  it("lets a granted member rotate, and no longer once revoked", { timeout: 30_000 }, async () => {
    const registry = new RedisLabRegistry(w.redis, w.prefix);
    const address = { platform: "slack" as const, tenant: w.slack.workspace.team, channel: "C0TEAM" };
    await registry.create(labRecord("grant-a", { platform: "slack", id: "U0OWNER" }, address));
    const owner = w.slack.as("U0OWNER", "owner");
    const bob = w.slack.as("U0BOB", "bob");
    const rotate = () => bob.slash("/secret", "rotate color orange --lab grant-a", { channel: "C0TEAM" });

    expect(text((await rotate()).body)).toMatch(/^Only <@U0OWNER>, who created `grant-a`/);

    // From another conversation, even the owner's grant is refused and nothing is written.
    const elsewhere = await owner.slash("/lab", "grant grant-a <@U0BOB|bob>", { channel: "C0OTHER" });
    expect(text(elsewhere.body)).toMatch(/belongs to another conversation/);
    expect((await registry.get("grant-a"))?.members).toBeUndefined();

    // A mention typed as plain text (not picked from Slack's list) is refused with one message.
    const plain = await owner.slash("/lab", "grant grant-a @bob", { channel: "C0TEAM" });
    expect(text(plain.body)).toMatch(/^Name the member by mentioning them/);

    const before = await w.jobCount();
    const granted = await owner.slash("/lab", "grant grant-a <@U0BOB|bob>", { channel: "C0TEAM" });
    expect(text(granted.body)).toMatch(/^<@U0BOB> may now destroy, extend and rotate/);
    expect(await w.jobCount()).toBe(before);
    expect((await registry.get("grant-a"))?.members).toEqual([{ platform: "slack", id: "U0BOB" }]);

    expect(text((await rotate()).body)).toMatch(/^Queued/);
    // A member may not grant others.
    const byBob = await bob.slash("/lab", "grant grant-a <@U0EVE>", { channel: "C0TEAM" });
    expect(text(byBob.body)).toMatch(/^Only <@U0OWNER>.* or an admin can grant access/);

    const revoked = await owner.slash("/lab", "revoke grant-a <@U0BOB>", { channel: "C0TEAM" });
    expect(text(revoked.body)).toMatch(/^<@U0BOB> is no longer a member of lab `grant-a`/);
    expect(text((await rotate()).body)).toMatch(/^Only <@U0OWNER>, who created `grant-a`/);
  });

  it("grants sent at once through the web role's connection are all kept", { timeout: 30_000 }, async () => {
    const registry = new RedisLabRegistry(w.redis, w.prefix);
    const address = { platform: "slack" as const, tenant: w.slack.workspace.team, channel: "C0MANY" };
    await registry.create(labRecord("grant-b", { platform: "slack", id: "U0OWNER" }, address));
    const updates = new ScriptedLabUpdates(w.redis, w.prefix);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        updates.update("grant-b", (r) => ({
          ...r,
          members: [...(r.members ?? []), { platform: "slack" as const, id: `U0M${i}` }],
        })),
      ),
    );
    expect((await registry.get("grant-b"))?.members).toHaveLength(10);
    expect(await updates.update("no-such-lab", (r) => r)).toBeUndefined();
  });
});
