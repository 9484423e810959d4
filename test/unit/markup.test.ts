import { describe, expect, it } from "vitest";
import { slackMarkup } from "../../adapters/slack/render.ts";
import { teamsMarkup } from "../../adapters/teams/render.ts";
import { verbatim, withoutMarks } from "../../src/chat/markup.ts";

const HOSTILE = "<!channel> [click](https://evil.example) <https://evil.example|login> *x* _y_";

describe("user-derived strings in chat markup", () => {
  it("leaves a string with nothing to escape as it is (every valid lab and secret name)", () => {
    for (const s of ["team-a", "db-connection-string", "Ada Lovelace", "c-0123456789ab", "2 labs"]) {
      expect(verbatim(s)).toBe(s);
    }
  });

  it("Slack: a marked string cannot mention, broadcast or link; labops' own markup still works", () => {
    const text = `*Lab* \`${verbatim(HOSTILE)}\` by <@U0ADA>, see <https://portal.azure.com|the portal>`;
    const out = slackMarkup(text);
    expect(out).toContain("*Lab* `&lt;!channel&gt; [click](https:\u200B//evil.example) &lt;https:\u200B//");
    expect(out).toContain("<@U0ADA>");
    expect(out).toContain("<https://portal.azure.com|the portal>");
    expect(out.match(/<[!@h][^>]*>/g)).toEqual(["<@U0ADA>", "<https://portal.azure.com|the portal>"]);
    expect(slackMarkup(verbatim("@here and @channel"))).toBe("@\u200Bhere and @\u200Bchannel");
    // labops never writes a special command itself: one in its text is shown, not run.
    expect(slackMarkup("<!here> hello")).toBe("&lt;!here> hello");
  });

  it("Teams: a marked string cannot link or format; labops' own markup still converts", () => {
    const out = teamsMarkup(`*Lab* ${verbatim(HOSTILE)} <https://portal.azure.com|the portal>`);
    expect(out).toBe(
      "**Lab** \\<!channel\\> \\[click\\](https:\u200B//evil.example) \\<https:\u200B//evil.example|login\\> \\*x\\* \\_y\\_ [the portal](https://portal.azure.com)",
    );
    // An underscore inside a word is no emphasis: left alone, so codes read as they are.
    expect(teamsMarkup(verbatim("quota_exceeded [x]"))).toBe("quota_exceeded \\[x\\]");
  });

  it("escapes to the end when a text was cut inside a marked string, and strips stray marks", () => {
    const cut = `Lab ${verbatim(HOSTILE)}`.slice(0, 20);
    expect(slackMarkup(cut)).not.toMatch(/<!channel>/);
    expect(teamsMarkup(cut)).not.toMatch(/(?<!\\)\[/);
    expect(withoutMarks(verbatim(verbatim("<x>")))).toBe("<x>");
    // Marks smuggled into user input are taken out before marking.
    expect(slackMarkup(verbatim("\u{E001}<!channel>\u{E000}"))).toBe("&lt;!channel&gt;");
  });
});
