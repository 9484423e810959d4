import { describe, expect, it } from "vitest";
import { MAX_RETRY_BUTTONS, type TeamRow, workshopCard } from "../../jobs/processors/workshop-create.ts";
import { readAction } from "../../src/commands/actions.ts";

/** Issue 16: the workshop card retries a failed team with a button, through the one action mapper. */

const card = (rows: TeamRow[]) =>
  workshopCard({
    prefix: "ws",
    host: undefined,
    rows,
    cost: undefined,
    correlationId: "c1",
    elapsedMs: 60_000,
  });
const failed = (n: number): TeamRow => ({
  lab: `ws-${n}`,
  state: "failed",
  detail: "failed at mi: AuthorizationFailed",
});

describe("the workshop card's Retry buttons", () => {
  it("has none while every team is fine", () => {
    const c = card([
      { lab: "ws-1", state: "done" },
      { lab: "ws-2", state: "running" },
    ]);
    expect(c.actions).toBeUndefined();
    expect(c.text).toBeUndefined();
  });

  it("has a Retry per failed team, each a lab.retry the action mapper reads as `lab create TEAM`", () => {
    const c = card([{ lab: "ws-1", state: "done" }, failed(2), failed(3)]);
    const buttons = (c.actions ?? []).filter((a) => a.kind === "button");
    expect(buttons.map((b) => [b.id, b.label, b.value])).toEqual([
      ["lab.retry", "Retry ws-2", "ws-2"],
      ["lab.retry", "Retry ws-3", "ws-3"],
    ]);
    for (const b of buttons) {
      // No --on: the lab resumes on the host its record names.
      expect(readAction(b.id, { value: b.value })).toEqual({
        ok: true,
        action: {
          kind: "command",
          command: { kind: "lab.create", lab: b.value, ttlMs: undefined },
          form: false,
        },
      });
    }
    expect(c.text).toBe("Press *Retry* on a team: it resumes where it stopped, on the same host.");
  });

  it(`carries at most ${MAX_RETRY_BUTTONS} buttons and names the other failed teams with the command`, () => {
    const rows = Array.from({ length: 7 }, (_, i) => failed(i + 1));
    const c = card(rows);
    expect(c.actions).toHaveLength(MAX_RETRY_BUTTONS);
    expect(c.text).toBe(
      "Press *Retry* on a team, or say `lab create ws-6` or `lab create ws-7`: each resumes where it stopped, on the same host.",
    );
  });
});
