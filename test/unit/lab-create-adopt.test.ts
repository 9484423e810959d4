import { describe, expect, it } from "vitest";
import type { ProcessorContext } from "../../jobs/processors/context.ts";
import type { WorkflowDeps } from "../../jobs/processors/deps.ts";
import { labCreateProcessor } from "../../jobs/processors/lab-create.ts";
import { conversationKey, userKey } from "../../src/commands/caps.ts";
import { createLogger } from "../../src/log.ts";
import type { ChatAddress, ChatMessage, ChatUser } from "../../src/ports/chat.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import { MemoryLabCaps } from "../fakes/caps.ts";
import { RecordingChat } from "../fakes/chat.ts";
import { ManualClock } from "../fakes/clock.ts";
import { MemoryLeases } from "../fakes/leases.ts";
import { MemoryLabRegistry } from "../fakes/registry.ts";
import { labRecord } from "../helpers/lab-record.ts";

/**
 * The create worker never takes over a lab that is not its own (issue 14,
 * finding 6): it reads the record again under the lab's lock, refuses one of
 * another conversation or of another job, never adopts a record a failed
 * create-if-absent found, and lets go of the name intake held for it.
 */

const here: ChatAddress = { platform: "slack", tenant: "T1", channel: "C-HERE" };
const there: ChatAddress = { platform: "teams", tenant: "tenant-1", channel: "19:there@thread.tacv2" };
const ada: ChatUser = { platform: "slack", id: "U-ADA", name: "ada" };
const tess: ChatUser = { platform: "teams", id: "aad-tess", name: "Tess" };

/** A registry where another create lands between this job's reads and its own create-if-absent. */
class RacedRegistry extends MemoryLabRegistry {
  readonly #other: LabRecord;
  constructor(other: LabRecord) {
    super();
    this.#other = other;
  }
  override async create(record: LabRecord): Promise<boolean> {
    await super.create(this.#other);
    return super.create(record);
  }
}

function setup(registry = new MemoryLabRegistry()) {
  const clock = new ManualClock();
  const chat = new RecordingChat();
  const caps = new MemoryLabCaps(registry);
  const deps = {
    registry,
    locks: new MemoryLeases(clock),
    clock,
    caps,
    settings: {
      location: "centralus",
      subscriptionId: "sub",
      tenantId: "tenant",
      defaultTtlMs: 8 * 3_600_000,
      maxTtlMs: 7 * 86_400_000,
      maxLabLifetimeMs: 86_400_000,
      replicas: 2,
      nodeCount: 2,
      vmSize: "Standard_B2s",
      rotationPollInterval: "2m",
      lockTtlMs: 60_000,
    },
  };
  const run = labCreateProcessor(
    // Only what a refused create touches: a create that went on would fail at once on the missing Azure ports.
    deps as unknown as WorkflowDeps,
  );
  const job = (lab: string, user: ChatUser, address: ChatAddress, jobId = "job-2"): ProcessorContext => ({
    jobId,
    attempt: 1,
    envelope: {
      deliveryId: `d-${jobId}`,
      correlationId: `c-${jobId}`,
      command: { kind: "lab.create", lab, ttlMs: undefined },
      origin: { address, user },
      receivedAt: clock.now(),
    },
    logger: createLogger({ level: "silent" }),
    signal: new AbortController().signal,
    drain: new AbortController().signal,
    chat,
    saved: {},
    checkpoint: async () => undefined,
  });
  /** Intake's hold on the name, as the job's correlation id holds it. */
  const hold = (lab: string, user: ChatUser, address: ChatAddress, jobId = "job-2") =>
    caps.admit({
      subject: { user: userKey(user), conversation: conversationKey(address), exempt: false },
      limits: { labsPerUser: 9, labsPerConversation: 9, labs: 99, commands: 99, windowMs: 60_000 },
      now: clock.now(),
      token: `c-${jobId}`,
      create: { lab, holdMs: 3_600_000, owner: JSON.stringify(user) },
    });
  const told = () => chat.notices.map((n) => textOf(n.message));
  return { registry, chat, caps, run, job, hold, told };
}

function textOf(message: ChatMessage): string {
  return typeof message === "string" ? message : JSON.stringify(message);
}

describe("lab create on the worker: a lab that is not this job's own is never taken over", () => {
  it("refuses a lab of another conversation, leaving its record as it was", async () => {
    const t = setup();
    const theirs = { ...labRecord("team-a", tess, there, "failed"), jobId: "job-1" };
    await t.registry.create(theirs);
    await t.run(t.job("team-a", ada, here));
    expect(t.told()).toEqual([
      "Lab `team-a` belongs to another conversation; nothing was done. Pick another name, e.g. `lab create team-a-2`.",
    ]);
    expect(await t.registry.get("team-a")).toEqual(theirs);
    expect(t.chat.threads.size).toBe(0);
  });

  it("refuses a lab another job of the same conversation is creating", async () => {
    const t = setup();
    await t.registry.create({ ...labRecord("team-b", ada, here, "creating"), jobId: "job-1" });
    await t.run(t.job("team-b", ada, here));
    expect(t.told()[0]).toMatch(/^Lab `team-b` is already being created by another command/);
    expect((await t.registry.get("team-b"))?.jobId).toBe("job-1");
  });

  it("never adopts the record a failed create-if-absent ran into, and lets go of its name", async () => {
    const theirs = { ...labRecord("team-c", tess, there, "creating"), jobId: "job-1" };
    const t = setup(new RacedRegistry(theirs));
    expect(await t.hold("team-c", ada, here)).toEqual({ ok: true });
    await t.run(t.job("team-c", ada, here));
    expect(t.told()).toEqual([
      "Lab `team-c` was just created by another command; nothing was done. Say `lab status team-c` to see it.",
    ]);
    expect(await t.registry.get("team-c")).toEqual(theirs);
    expect(t.chat.threads.size).toBe(0);
    // The name is the record's now; intake's hold is gone.
    expect(await t.hold("team-c", tess, there, "job-3")).toEqual({ ok: true });
  });
});
