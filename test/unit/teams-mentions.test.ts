import type { Activity } from "botbuilder";
import { describe, expect, it } from "vitest";
import { withUserMentions } from "../../adapters/teams/mentions.ts";
import { parseMessageText } from "../../src/commands/parse.ts";

const activity = (entities: unknown[]): Activity =>
  ({ type: "message", recipient: { id: "28:bot", name: "labops" }, entities }) as unknown as Activity;

describe("Teams user mentions in command text", () => {
  it("writes a user's mention as their AAD object id, which lab grant reads", () => {
    const a = activity([
      { type: "mention", text: "<at>labops</at>", mentioned: { id: "28:bot", name: "labops" } },
      {
        type: "mention",
        text: "<at>Jane Doe</at>",
        mentioned: { id: "29:jane", name: "Jane Doe", aadObjectId: "6f1c2a3b-0000-4000-8000-00000000abcd" },
      },
    ]);
    const text = withUserMentions(a, "lab grant team-a <at>Jane Doe</at>");
    expect(text).toBe("lab grant team-a <@6f1c2a3b-0000-4000-8000-00000000abcd>");
    expect(parseMessageText(text)).toEqual({
      ok: true,
      command: { kind: "lab.grant", lab: "team-a", member: "6f1c2a3b-0000-4000-8000-00000000abcd" },
    });
  });

  it("leaves a mention without an AAD object id as typed, so the parser refuses it", () => {
    const a = activity([
      { type: "mention", text: "<at>Jane</at>", mentioned: { id: "29:jane", name: "Jane" } },
    ]);
    const text = withUserMentions(a, "lab grant team-a <at>Jane</at>");
    expect(text).toBe("lab grant team-a <at>Jane</at>");
    const parsed = parseMessageText(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.rejection.message).toMatch(/^Name the member by mentioning them/);
  });
});
