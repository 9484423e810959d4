import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { describeCommand } from "../../src/commands/describe.ts";
import { parseCommandText, parseMessageText, parseSlashCommand } from "../../src/commands/parse.ts";
import type { Command } from "../../src/commands/types.ts";

function command(text: string): Command {
  const r = parseCommandText(text);
  if (!r.ok) throw new Error(`expected ${text} to parse: ${r.rejection.message}`);
  return r.command;
}

function rejection(text: string): string {
  const r = parseCommandText(text);
  if (r.ok) throw new Error(`expected ${text} to be rejected`);
  return r.rejection.message;
}

describe("command grammar", () => {
  it("parses every command of the product", () => {
    expect(command("lab create team-a")).toEqual({ kind: "lab.create", lab: "team-a", ttlMs: undefined });
    expect(command("lab create team-a --ttl 8h")).toEqual({
      kind: "lab.create",
      lab: "team-a",
      ttlMs: 8 * 3_600_000,
    });
    expect(command("lab create team-a --ttl=90m")).toMatchObject({ ttlMs: 90 * 60_000 });
    expect(command("lab destroy team-a")).toEqual({ kind: "lab.destroy", lab: "team-a", confirmed: false });
    expect(command("lab destroy team-a --yes")).toEqual({
      kind: "lab.destroy",
      lab: "team-a",
      confirmed: true,
    });
    expect(command("lab status")).toEqual({ kind: "lab.status", lab: undefined });
    expect(command("lab status team-a")).toEqual({ kind: "lab.status", lab: "team-a" });
    expect(command("lab list")).toEqual({ kind: "lab.list" });
    expect(command("lab extend team-a --by 4h")).toEqual({
      kind: "lab.extend",
      lab: "team-a",
      byMs: 4 * 3_600_000,
    });
    expect(command("secret list")).toEqual({ kind: "secret.list", lab: undefined });
    expect(command("secret list --lab team-a")).toEqual({ kind: "secret.list", lab: "team-a" });
    expect(command("secret rollback color --lab team-a")).toEqual({
      kind: "secret.rollback",
      secret: "color",
      lab: "team-a",
    });
    expect(command("help")).toEqual({ kind: "help", topic: undefined });
    expect(command("lab")).toEqual({ kind: "help", topic: "lab" });
  });

  it("keeps a rotated value out of every printable form", () => {
    const c = command('secret rotate db-password "s3cr3t value" --lab team-a');
    expect(c.kind).toBe("secret.rotate");
    if (c.kind !== "secret.rotate") return;
    expect(c.value?.reveal()).toBe("s3cr3t value");
    expect(c.lab).toBe("team-a");
    expect(JSON.stringify(c)).not.toContain("s3cr3t");
    expect(String(c.value)).not.toContain("s3cr3t");
    expect(describeCommand(c)).toBe("secret rotate db-password --lab team-a");
  });

  it("accepts typographic quotes, as Slack and Teams send them, and quoted values that look like flags", () => {
    const c = command("secret rotate color \u201cdark orange\u201d");
    expect(c.kind === "secret.rotate" && c.value?.reveal()).toBe("dark orange");
    const d = command('secret rotate color "--red"');
    expect(d.kind === "secret.rotate" && d.value?.reveal()).toBe("--red");
  });

  it("leaves the value out when none is given, so the chat can ask for it privately", () => {
    expect(command("secret rotate color")).toEqual({
      kind: "secret.rotate",
      secret: "color",
      value: undefined,
      lab: undefined,
    });
  });

  it.each([
    ["lab create Team_A", /not a valid lab name.*lowercase/],
    ["lab create a", /too short/],
    ["lab create team--a", /two hyphens/],
    ["lab create team-a-", /ends with a hyphen/],
    ["lab create 1team", /start with a lowercase letter/],
    ["lab create abcdefghijklmnopqrstu", /21 characters/],
    ["lab create", /Which lab/],
    ["lab create team-a --ttl 8x", /not a duration/],
    ["lab create team-a --ttl 10m", /out of range/],
    ["lab create team-a --ttl 30d", /out of range/],
    [
      "lab create team-a --color red",
      /Unknown option for `lab create NAME \[--on HOST\] \[--ttl 8h\]`: it takes --ttl/,
    ],
    ["lab frobnicate", /not a command/],
    ["secret rotate bad_name x", /not a valid secret name/],
    ["secret list --lab BAD", /not a valid lab name/],
    ["deploy everything", /did not understand/],
    // Issue 14, finding 9: a repeated option is refused, not silently the last one.
    ["secret list --lab team-a --lab team-b", /`--lab` is given twice/],
    ["lab create team-a --ttl 8h --ttl 2d", /`--ttl` is given twice/],
    ["lab create team-a --ttl=8h --TTL 2d", /`--ttl` is given twice/],
    ["secret rotate color x --lab=team-a --lab team-b", /`--lab` is given twice/],
    ["lab extend team-a --by 4h --ttl 2h", /`--by` and `--ttl` are the same option/],
    ["lab destroy team-a --yes -y", /`--yes` is given twice/],
  ])("rejects %s with one message that shows what is allowed and an example", (text, pattern) => {
    const message = rejection(text);
    expect(message).toMatch(pattern);
    expect(message).toMatch(/`[a-z]+ [a-z]+[^`]*`/); // an example command
  });

  it("refuses a value over Key Vault's 25 KB and never echoes it", () => {
    const big = "x".repeat(25 * 1024 + 1);
    const message = rejection(`secret rotate color ${big}`);
    expect(message).toMatch(/25 KB/);
    expect(message).not.toContain("xxxxxxxxxx");
  });

  it("never echoes an unknown option: it may be a value typed in the wrong place (issue 14, finding 9)", () => {
    for (const text of [
      "secret rotate color --hunter2",
      "secret rotate color --pw=hunter2 --lab team-a",
      "lab list --<!channel>",
    ]) {
      const message = rejection(text);
      expect(message).toMatch(/^Unknown option/);
      expect(message).not.toMatch(/hunter2|pw|channel/);
    }
  });

  it("never echoes the words after a value typed without quotes", () => {
    const message = rejection("secret rotate db-password correct horse battery");
    expect(message).toMatch(/in quotes/);
    expect(message).not.toMatch(/horse|battery/);
  });

  it("takes a Slack slash command and message text with or without a mention or slash", () => {
    const expected = { kind: "lab.create", lab: "team-a", ttlMs: undefined };
    expect(parseSlashCommand("/lab", "create team-a")).toEqual({ ok: true, command: expected });
    expect(parseSlashCommand("/secret", "list")).toEqual({
      ok: true,
      command: { kind: "secret.list", lab: undefined },
    });
    for (const text of [
      "lab create team-a",
      "/lab create team-a",
      "<at>labops</at> lab create team-a",
      "<at>labops</at>&nbsp;/lab create team-a",
      "<@U0BOT> lab create team-a",
      "@labops: lab create team-a",
    ]) {
      expect(parseMessageText(text), text).toEqual({ ok: true, command: expected });
    }
    expect(parseSlashCommand("/deploy", "x").ok).toBe(false);
  });

  it("never throws and gives every rejection a message (fuzzed)", () => {
    const words = fc.constantFrom(
      "lab",
      "secret",
      "create",
      "destroy",
      "status",
      "list",
      "extend",
      "rotate",
      "rollback",
      "help",
      "--ttl",
      "--lab",
      "--yes",
      "--by",
      "team-a",
      "8h",
      '"',
      "\u201c",
      "=",
      "--",
      "-y",
    );
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: "grapheme", maxLength: 100 }),
      fc.array(fc.oneof(words, fc.string({ maxLength: 12 })), { maxLength: 8 }).map((w) => w.join(" ")),
    );
    fc.assert(
      fc.property(text, (t) => {
        for (const r of [
          parseCommandText(t),
          parseMessageText(t),
          parseSlashCommand("/lab", t),
          parseSlashCommand("/secret", t),
        ]) {
          if (!r.ok) {
            expect(typeof r.rejection.message).toBe("string");
            expect(r.rejection.message.length).toBeGreaterThan(10);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("round-trips valid lab names through create (fuzzed)", () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,18}[a-z0-9]$/).filter((n) => !n.includes("--"));
    fc.assert(
      fc.property(name, (n) => {
        const r = parseCommandText(`lab create ${n}`);
        expect(r.ok && r.command.kind === "lab.create" && r.command.lab).toBe(n);
      }),
      { numRuns: 500 },
    );
  });
});
