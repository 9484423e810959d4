import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorld, type World } from "../helpers/chat-world.ts";
import { teamsVisible } from "../helpers/teams-visible.ts";

/**
 * Issue 17, item 7, through the real adapters: `/lab help` lists every command
 * as Slack types it, `@labops help` as Teams does; a hint says the slash or
 * the mention; list's acknowledgement promises no thread.
 */
describe("help and hints as each platform types them", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ timeScale: 20 });
  });
  afterAll(async () => {
    await w?.close();
  });

  describe("Slack", () => {
    const channel = "C0HELP";
    const told = async (text: string) => {
      const ada = w.slack.as("U0ADA", "ada");
      await ada.slash("/lab", text, { channel });
      return (
        ada
          .conversation(channel)
          .filter((m) => m.ephemeral)
          .at(-1)?.text ?? ""
      );
    };

    it("answers /lab help with every command, secrets included, as slash commands", async () => {
      const help = await told("help");
      expect(help).toContain("/lab create NAME [--on HOST] [--ttl 8h]");
      expect(help).toContain("/secret rotate NAME [VALUE] [--lab NAME]");
      expect(help).toContain("/secret rollback NAME [--lab NAME]");
      expect(help).toContain("/host create NAME");
      expect(help).toContain("/workshop create PREFIX --teams N");
    });

    it("hints with the slash, and acknowledges lab list without promising a thread", async () => {
      expect(await told("frob")).toMatch(/Say `\/lab help` for more\.$/);
      const ack = await told("list");
      expect(ack).toMatch(
        /^Queued `lab list` \(ref c-[0-9a-f]+\)\. The answer will be posted in this channel/,
      );
      expect(ack).not.toMatch(/thread/);
    });
  });

  describe("Teams", () => {
    const ada = { aadObjectId: "aad-ada", name: "Ada" };
    const answer = async (text: string) => {
      const said = await w.teams.as(ada).say(w.teams.channel("help"), text);
      return teamsVisible(await said.answer()).text;
    };

    it("answers help with every command in the @mention form", async () => {
      const help = await answer("help");
      expect(help).toContain("@labops lab create NAME [--on HOST] [--ttl 8h]");
      expect(help).toContain("@labops secret rotate NAME [VALUE] [--lab NAME]");
      expect(help).not.toContain("/lab ");
    });

    it("hints with the @mention", async () => {
      expect(await answer("lab frob")).toMatch(/Say `?@labops help`? for more\./);
    });
  });
});
