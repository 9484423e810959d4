import { describe, expect, it } from "vitest";
import { actionToIncoming } from "../../src/commands/actions.ts";
import { type IntakeDeps, intake } from "../../src/commands/intake.ts";
import { destroyedLabCard, destroyingLabCard, labCardFromRecord } from "../../src/labs/lab-card.ts";
import { createLogger } from "../../src/log.ts";
import type { Card, ChatAddress, ChatUser } from "../../src/ports/chat.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import { MemoryAuditLog } from "../fakes/audit.ts";
import { ManualClock } from "../fakes/clock.ts";
import { MemoryConfirmationStore } from "../fakes/confirmations.ts";
import { MemoryDeliveryLog } from "../fakes/deliveries.ts";
import { MemoryQueue } from "../fakes/queue.ts";
import { MemoryLabRegistry } from "../fakes/registry.ts";

/** Issue 17, item 6: the create card follows the lab (extend, destroy); a press on a stale copy is answered. */

const here: ChatAddress = { platform: "slack", tenant: "T1", channel: "C1" };
const ada: ChatUser = { platform: "slack", id: "U-ADA", name: "ada" };
const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);

function ready(expiresAt: number): LabRecord {
  const step = (finishedAt: number) => ({ outputs: {}, durationMs: 1_000, finishedAt });
  return {
    name: "team-a",
    state: "ready",
    owner: ada,
    address: here,
    location: "westeurope",
    createdAt: T0,
    updatedAt: T0,
    expiresAt,
    outputs: {
      vaultName: "kv-team-a-abcde",
      resourceGroupId: "/subscriptions/s/resourceGroups/lab-team-a-rg",
    },
    steps: Object.fromEntries(
      [
        "rg",
        "aks",
        "kv",
        "mi",
        "role-mi",
        "role-bot",
        "fic",
        "secrets",
        "creds",
        "reloader",
        "workload",
        "verify",
      ].map((s, i) => [s, step(T0 + 1_000 * (i + 1))]),
    ),
    thread: { address: here, threadId: "1.0", cardId: "1.0" },
    correlationId: "c-create",
  };
}

const buttons = (card: Card) => (card.actions ?? []).filter((a) => a.kind === "button").map((a) => a.label);
const field = (card: Card, label: string) => card.fields?.find((f) => f.label === label)?.value;

describe("the create card redrawn from the lab's record", () => {
  it("shows the new expiry after an extend, and stays the ready card it was", () => {
    const card = labCardFromRecord(ready(T0 + 48 * 60_000 + 24 * 60_000), T0 + 30 * 60_000, {
      tenantId: "tenant",
      timeScale: 10,
    });
    expect(card.title).toBe("Lab team-a is ready (12s)");
    expect(card.status).toBe("succeeded");
    expect(field(card, "Expires")).toBe("2026-12-01 10:12 UTC, 1h12m after creation (12h00m in Azure time)");
    expect(buttons(card)).toEqual(["Extend 4h"]);
    expect(card.progress).toEqual({ done: 12, total: 12 });
    expect(card.footer).toMatch(/^ref c-create · Emulated world, 10× faster/);
  });

  it("has no buttons while the lab is being destroyed, nor once it is gone", () => {
    const facts = { by: "ada", labRef: "c-create", timeScale: 1 };
    const going = destroyingLabCard("team-a", facts);
    expect(going.title).toBe("Lab team-a: being destroyed");
    expect(going.actions).toBeUndefined();
    const gone = destroyedLabCard("team-a", T0, facts);
    expect(gone).toMatchObject({
      title: "Lab team-a: destroyed",
      status: "cancelled",
      footer: "ref c-create",
    });
    expect(gone.text).toMatch(
      /Destroyed 2026-12-01 09:00 UTC, asked by ada: .* Say `lab create team-a` for a new one\./,
    );
    expect(gone.actions).toBeUndefined();
  });
});

describe("a press on a button of a stale card", () => {
  function setup() {
    const clock = new ManualClock({ now: T0 });
    const registry = new MemoryLabRegistry();
    const queue = new MemoryQueue();
    const deps: IntakeDeps = {
      queue,
      registry,
      confirmations: new MemoryConfirmationStore(clock),
      audit: new MemoryAuditLog(),
      deliveries: new MemoryDeliveryLog(clock),
      admins: [],
      logger: createLogger({ level: "silent" }),
      clock,
    };
    let seq = 0;
    const press = async (verb: string, value: string) => {
      seq += 1;
      const read = actionToIncoming({
        verb,
        data: { value },
        deliveryId: `d${seq}`,
        origin: { address: here, user: ada },
        receivedAt: clock.now(),
        // Buttons only here: no form is submitted, so no form tag is ever checked under it.
        formKey: Buffer.alloc(32),
      });
      if (!read.ok) throw new Error(read.text);
      return intake(read.incoming, deps);
    };
    return { registry, queue, press };
  }

  it("Extend on a lab being destroyed is refused at once and queues nothing", async () => {
    const { registry, queue, press } = setup();
    await registry.create({ ...ready(T0 + 3_600_000), state: "destroying" });
    const outcome = await press("lab.extend", "team-a");
    expect(outcome).toMatchObject({ kind: "refused", reason: "lab_destroying" });
    expect(outcome.text).toBe(
      "Lab `team-a` is being destroyed: there is nothing to extend any more. Its thread shows the destroy.",
    );
    expect(queue.jobs).toHaveLength(0);
  });

  it("Extend on a destroyed lab says there is no such lab any more", async () => {
    const { queue, press } = setup();
    const outcome = await press("lab.extend", "team-a");
    expect(outcome).toMatchObject({ kind: "refused", reason: "no_lab" });
    expect(outcome.text).toMatch(/^There is no lab `team-a`/);
    expect(queue.jobs).toHaveLength(0);
  });
});
