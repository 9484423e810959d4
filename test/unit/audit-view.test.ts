import { describe, expect, it } from "vitest";
import { auditLine, recentCommands } from "../../src/commands/audit-view.ts";
import type { AuditEntry, AuditResult } from "../../src/ports/audit.ts";

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);

function entry(correlationId: string, result: AuditResult, minute: number, command: string): AuditEntry {
  return {
    at: T0 + minute * 60_000,
    correlationId,
    deliveryId: `d-${correlationId}-${result}`,
    platform: "slack",
    tenant: "T1",
    channel: "C1",
    userId: "U1",
    userName: "ada",
    command,
    lab: "team-a",
    result,
  };
}

describe("lab status: recent commands", () => {
  // Newest first, as AuditLog.recent returns them.
  const trail = [
    entry("c-3", "succeeded", 9, "secret rotate color --lab team-a"),
    entry("c-3", "queued", 8, "secret rotate color --lab team-a"),
    entry("c-2", "answered", 7, "secret rotate color --lab team-a"),
    entry("c-4", "refused", 6, "lab destroy team-a"),
    entry("c-1", "succeeded", 2, "lab create team-a"),
    entry("c-1", "queued", 0, "lab create team-a"),
  ];

  it("shows each command once, with its latest outcome and when it was asked", () => {
    const lines = recentCommands(trail, 5).map(auditLine);
    expect(lines).toEqual([
      expect.stringMatching(
        /^2026-12-01 09:08 UTC · .* · `secret rotate color --lab team-a` · succeeded · ref c-3$/,
      ),
      expect.stringMatching(/09:06 UTC · .* · `lab destroy team-a` · refused · ref c-4$/),
      expect.stringMatching(/^2026-12-01 09:00 UTC · .* · `lab create team-a` · succeeded · ref c-1$/),
    ]);
  });

  it("keeps the newest commands when there are more than asked for", () => {
    expect(recentCommands(trail, 2).map((e) => e.correlationId)).toEqual(["c-3", "c-4"]);
  });
});
