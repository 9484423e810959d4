import { describe, expect, it } from "vitest";
import { CapacityPreflight, type LabDemand, QUOTA_PORTAL_URL } from "../../src/labs/preflight.ts";
import { capacityReservationsContract } from "../contract/capacity-reservations.contract.ts";
import { FakeCapacity, InMemoryCapacityReservations, READ_FAILURE } from "../fakes/capacity.ts";
import { ManualClock } from "../fakes/clock.ts";

capacityReservationsContract("InMemoryCapacityReservations", () => new InMemoryCapacityReservations());

const signal = new AbortController().signal;
const lab = (name: string, extra: Partial<LabDemand> = {}): LabDemand => ({
  lab: name,
  cluster: `lab-${name}-aks`,
  location: "centralus",
  nodeCount: 2,
  vmSize: "Standard_B2s",
  ...extra,
});

function world(limits?: Record<string, number>) {
  const clock = new ManualClock();
  const capacity = new FakeCapacity("centralus", limits);
  const reservations = new InMemoryCapacityReservations();
  const logs: Array<{ level: string; obj: unknown; msg: string }> = [];
  const logger = {
    info: (obj: unknown, msg: string) => logs.push({ level: "info", obj, msg }),
    warn: (obj: unknown, msg: string) => logs.push({ level: "warn", obj, msg }),
  };
  const preflight = new CapacityPreflight({
    capacity,
    reservations,
    clock,
    logger: logger as never,
    cacheMs: 10_000,
  });
  return { clock, capacity, reservations, preflight, logs };
}

describe("capacity pre-flight", () => {
  it("lets two labs of 4 vCPUs through a regional quota of 10 and refuses the third, saying what is needed and left", async () => {
    const { preflight } = world({ cores: 10, standardBSFamily: 10 });
    expect(await preflight.check(lab("team-a"), signal)).toEqual({ ok: true, checked: true, reserved: true });
    expect(await preflight.check(lab("team-b"), signal)).toMatchObject({ ok: true });
    const third = await preflight.check(lab("team-c"), signal);
    expect(third.ok).toBe(false);
    if (third.ok) return;
    expect(third.code).toBe("QuotaExceeded");
    expect(third.message).toContain(
      "it needs 4 vCPUs (2 × `Standard_B2s`, 2 vCPUs each) of the *Total Regional vCPUs* quota (`cores`) in `centralus`, and 2 are left (limit 10, 0 in use, 8 held by 2 labs being created).",
    );
    expect(third.message).toContain("nothing of it exists in Azure");
    expect(third.message).toContain("fewer labs at once: 2 are being created");
    expect(third.message).toContain("a smaller lab: one node (2 vCPUs) fits");
    expect(third.message).toContain(`to at least 12: ${QUOTA_PORTAL_URL}`);
  });

  it("counts three checks sent at once with room for two: exactly one is refused", async () => {
    const { preflight, capacity } = world({ cores: 10, standardBSFamily: 10 });
    const results = await Promise.all(["x", "y", "z"].map((n) => preflight.check(lab(n), signal)));
    expect(results.filter((r) => r.ok)).toHaveLength(2);
    // One snapshot served all three.
    expect(capacity.reads).toBe(3);
  });

  it("names the family quota when it is the one that is short, and suggests a size of another family", async () => {
    const { preflight, capacity } = world({ cores: 20, standardBSFamily: 10, standardDSv5Family: 10 });
    capacity.setCurrent("centralus", "standardBSFamily", 8);
    capacity.setCurrent("centralus", "cores", 8);
    const refused = await preflight.check(lab("team-f"), signal);
    expect(refused).toMatchObject({ ok: false, code: "QuotaExceeded" });
    if (refused.ok) return;
    expect(refused.message).toContain("of the *standardBSFamily vCPUs* quota (`standardBSFamily`)");
    expect(refused.message).toContain("and 2 are left (limit 10, 8 in use)");
    expect(refused.message).toContain("`Standard_D2s_v5`");
  });

  it("does not count a lab twice once its cluster shows in the usages", async () => {
    const { preflight, capacity, clock } = world({ cores: 10, standardBSFamily: 10 });
    expect((await preflight.check(lab("team-a"), signal)).ok).toBe(true);
    // team-a's cluster now exists and is counted by Azure; a fresh snapshot sees both.
    capacity.setCurrent("centralus", "cores", 4);
    capacity.setCurrent("centralus", "standardBSFamily", 4);
    capacity.existing = [{ name: "lab-team-a-aks", resourceGroup: "lab-team-a-rg", location: "centralus" }];
    await clock.advance(10_001);
    expect((await preflight.check(lab("team-b"), signal)).ok).toBe(true);
    expect((await preflight.check(lab("team-c"), signal)).ok).toBe(false);
  });

  it("takes nothing more for a retried lab whose cluster exists", async () => {
    const { preflight, capacity } = world({ cores: 4, standardBSFamily: 4 });
    capacity.setCurrent("centralus", "cores", 4);
    capacity.existing = [{ name: "lab-team-a-aks", resourceGroup: "lab-team-a-rg", location: "centralus" }];
    expect(await preflight.check(lab("team-a"), signal)).toEqual({
      ok: true,
      checked: true,
      reserved: false,
    });
  });

  it("gives the room back on release, once the cache's snapshot has expired", async () => {
    const { preflight, clock } = world({ cores: 4, standardBSFamily: 4 });
    expect((await preflight.check(lab("team-a"), signal)).ok).toBe(true);
    expect((await preflight.check(lab("team-b"), signal)).ok).toBe(false);
    await preflight.release(lab("team-a"));
    expect((await preflight.check(lab("team-b"), signal)).ok).toBe(false);
    await clock.advance(10_001);
    expect((await preflight.check(lab("team-b"), signal)).ok).toBe(true);
  });

  it("refuses a size restricted for the subscription, naming it and what is offered instead", async () => {
    const { preflight, capacity, reservations, clock } = world();
    capacity.restrict("centralus", "Standard_B2s");
    const refused = await preflight.check(lab("team-r"), signal);
    expect(refused).toMatchObject({ ok: false, code: "SizeNotAvailable" });
    if (refused.ok) return;
    expect(refused.message).toContain(
      "the VM size `Standard_B2s` is not available to this subscription in `centralus` (NotAvailableForSubscription).",
    );
    expect(refused.message).toContain("LABOPS_VM_SIZE (offered here: `Standard_D2s_v5`)");
    expect(await reservations.reserved(clock.now())).toEqual({});
  });

  it("refuses a size or a location Azure does not offer", async () => {
    const { preflight } = world();
    expect(await preflight.check(lab("team-s", { vmSize: "Standard_Z9" }), signal)).toMatchObject({
      ok: false,
      code: "SizeNotOffered",
    });
    expect(await preflight.check(lab("team-l", { location: "atlantis" }), signal)).toMatchObject({
      ok: false,
      code: "LocationNotOffered",
    });
  });

  it("says so in the log and goes on when the reads fail", async () => {
    const { preflight, capacity, logs } = world();
    capacity.failWith = READ_FAILURE;
    expect(await preflight.check(lab("team-a"), signal)).toEqual({
      ok: true,
      checked: false,
      reserved: false,
    });
    expect(logs.find((l) => l.level === "warn")?.msg).toMatch(/^preflight\.reads_failed/);
    expect(logs.find((l) => l.level === "warn")?.obj).toMatchObject({ code: "Timeout", lab: "team-a" });
  });

  it("reuses its snapshot for the cache's lifetime", async () => {
    const { preflight, capacity, clock } = world({ cores: 100, standardBSFamily: 100 });
    await preflight.check(lab("a"), signal);
    await preflight.check(lab("b"), signal);
    expect(capacity.reads).toBe(3);
    await clock.advance(10_001);
    await preflight.check(lab("c"), signal);
    expect(capacity.reads).toBe(6);
  });
});

describe("start-up check of the lab settings", () => {
  const quiet = () => {
    const lines: Array<{ level: string; msg: string }> = [];
    return {
      lines,
      logger: {
        info: (_: unknown, msg: string) => lines.push({ level: "info", msg }),
        warn: (_: unknown, msg: string) => lines.push({ level: "warn", msg }),
      } as never,
    };
  };

  it("is quiet when the location offers the size, and warns clearly when it does not", async () => {
    const { checkLabSettings } = await import("../../src/labs/startup-check.ts");
    const capacity = new FakeCapacity();
    const log = quiet();
    const run = (location: string, vmSize: string) =>
      checkLabSettings(capacity, { location, vmSize }, log.logger, signal);
    expect((await run("centralus", "Standard_B2s")).status).toBe("ok");
    expect(await run("centrallus", "Standard_B2s")).toMatchObject({
      status: "warning",
      message: expect.stringMatching(/^AZURE_LOCATION=centrallus: Azure offers no VM size/),
    });
    expect((await run("centralus", "Standard_Z9")).message).toMatch(
      /^LABOPS_VM_SIZE=Standard_Z9 is not offered in centralus/,
    );
    capacity.restrict("centralus", "Standard_B2s");
    expect((await run("centralus", "Standard_B2s")).message).toMatch(
      /restricted for this subscription in centralus \(NotAvailableForSubscription\)/,
    );
    capacity.failWith = READ_FAILURE;
    expect((await run("centralus", "Standard_B2s")).status).toBe("unchecked");
    expect(log.lines.map((l) => l.level)).toEqual(["info", "warn", "warn", "warn", "warn"]);
  });
});
