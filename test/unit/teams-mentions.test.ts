import type { Activity } from "botbuilder";
import { describe, expect, it } from "vitest";
import {
  mentionNames,
  mentionsToLookUp,
  resolveMentions,
  withUserMentions,
} from "../../adapters/teams/mentions.ts";
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

  it("keeps the name each mention showed, by the AAD object id written for it, for answers only", () => {
    const a = activity([
      { type: "mention", text: "<at>labops</at>", mentioned: { id: "28:bot", name: "labops" } },
      { type: "mention", text: "<at>Jane Doe</at>", mentioned: { id: "29:jane", name: "Jane\u0007 Doe " } },
      { type: "mention", text: "<at>Nobody</at>", mentioned: { id: "29:nobody", name: "Nobody" } },
    ]);
    const names = mentionNames(
      a,
      "lab grant team-a <at>Jane Doe</at> <at>Nobody</at>",
      new Map([["29:jane", "AB-12"]]),
    );
    expect([...names]).toEqual([["ab-12", "Jane Doe"]]);
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

  const bob = { type: "mention", text: "<at>Bob</at>", mentioned: { id: "29:1bob-opaque_id", name: "Bob" } };
  const BOB_AAD = "b0000000-0000-4000-8000-00000000000b";

  it("writes a mention with only a 29: id as the AAD object id the lookup found", () => {
    const a = activity([bob]);
    const text = "lab grant team-a <at>Bob</at>";
    expect(mentionsToLookUp(a, text)).toEqual(["29:1bob-opaque_id"]);
    const written = withUserMentions(a, text, new Map([["29:1bob-opaque_id", BOB_AAD]]));
    expect(parseMessageText(written)).toEqual({
      ok: true,
      command: { kind: "lab.grant", lab: "team-a", member: BOB_AAD },
    });
  });

  it("looks up only for lab grant and lab revoke, however the command starts", () => {
    const a = activity([bob]);
    expect(mentionsToLookUp(a, "lab revoke team-a <at>Bob</at>")).toHaveLength(1);
    expect(mentionsToLookUp(a, "/LAB  grant team-a <at>Bob</at>")).toHaveLength(1);
    expect(mentionsToLookUp(a, "lab&nbsp;grant team-a <at>Bob</at>")).toHaveLength(1);
    expect(mentionsToLookUp(a, "lab status <at>Bob</at>")).toEqual([]);
    expect(mentionsToLookUp(a, "secret rotate color <at>Bob</at>")).toEqual([]);
    expect(mentionsToLookUp(a, "help lab grant <at>Bob</at>")).toEqual([]);
    expect(mentionsToLookUp(a, "@labops, lab grant team-a <at>Bob</at>")).toHaveLength(1);
  });

  it("looks up no mention that carries its AAD object id, is the bot's, or is not in the text", () => {
    const withAad = { ...bob, mentioned: { ...bob.mentioned, aadObjectId: BOB_AAD } };
    const botMention = {
      type: "mention",
      text: "<at>labops</at>",
      mentioned: { id: "28:bot", name: "labops" },
    };
    expect(mentionsToLookUp(activity([withAad]), "lab grant team-a <at>Bob</at>")).toEqual([]);
    expect(mentionsToLookUp(activity([botMention]), "lab grant team-a <at>labops</at>")).toEqual([]);
    expect(mentionsToLookUp(activity([bob]), "lab grant team-a @Bob")).toEqual([]);
    const notTeams = { ...bob, mentioned: { id: "8:orgid:bob", name: "Bob" } };
    expect(mentionsToLookUp(activity([notTeams]), "lab grant team-a <at>Bob</at>")).toEqual([]);
  });

  it("looks up nobody when more than one user would need it: the command takes one member", () => {
    const eve = { type: "mention", text: "<at>Eve</at>", mentioned: { id: "29:1eve", name: "Eve" } };
    const a = activity([bob, eve]);
    expect(mentionsToLookUp(a, "lab grant team-a <at>Bob</at> <at>Eve</at>")).toEqual([]);
    // The same user mentioned twice is one lookup.
    expect(mentionsToLookUp(activity([bob, bob]), "lab grant team-a <at>Bob</at>")).toEqual([
      "29:1bob-opaque_id",
    ]);
  });

  it("keeps only the ids a lookup found and that look like AAD object ids", async () => {
    const found = await resolveMentions(["29:1a", "29:1b", "29:1c", "29:1d"], async (id) => {
      if (id === "29:1a") return BOB_AAD;
      if (id === "29:1b") throw new Error("404 MemberNotFoundInConversation");
      if (id === "29:1c") return "<script>";
      return undefined;
    });
    expect(found).toEqual(new Map([["29:1a", BOB_AAD]]));
    // A failed lookup leaves the mention as typed, and the parser refuses it with its one message.
    const text = withUserMentions(activity([bob]), "lab grant team-a <at>Bob</at>", found);
    const parsed = parseMessageText(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.rejection.message).toMatch(/^Name the member by mentioning them/);
  });

  it("reads entities of any shape without failing", () => {
    const odd = {
      type: "message",
      recipient: { id: "28:bot" },
      entities: { type: "mention" },
    } as unknown as Activity;
    expect(mentionsToLookUp(odd, "lab grant team-a <at>Bob</at>")).toEqual([]);
    expect(withUserMentions(activity([null, 7, bob]), "lab grant team-a <at>Bob</at>")).toBe(
      "lab grant team-a <at>Bob</at>",
    );
    expect(mentionsToLookUp(activity([null, bob]), "lab grant team-a <at>Bob</at>")).toEqual([
      "29:1bob-opaque_id",
    ]);
  });
});
