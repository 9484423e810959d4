import { ExternalError } from "../../src/errors.ts";
import type {
  CapacityPort,
  CapacityReservations,
  ComputeUsage,
  ExistingCluster,
  ReservationRequest,
  ReservationResult,
  VmSizeInfo,
} from "../../src/ports/capacity.ts";

/** Reservations in memory, with the Redis implementation's semantics (one synchronous step per reserve). */
export class InMemoryCapacityReservations implements CapacityReservations {
  readonly #entries = new Map<string, { amounts: Array<[string, number]>; expiresAt: number }>();

  async reserve(request: ReservationRequest): Promise<ReservationResult> {
    const totals = new Map<string, number>();
    const labs = new Map<string, number>();
    for (const [id, entry] of [...this.#entries]) {
      if (entry.expiresAt <= request.now) {
        this.#entries.delete(id);
        continue;
      }
      if (id === request.id || request.ignore.includes(id)) continue;
      for (const [key, amount] of entry.amounts) {
        totals.set(key, (totals.get(key) ?? 0) + amount);
        labs.set(key, (labs.get(key) ?? 0) + 1);
      }
    }
    for (const [key, amount] of Object.entries(request.amounts)) {
      const reserved = totals.get(key) ?? 0;
      if (amount > 0 && reserved + amount > (request.available[key] ?? 0)) {
        return { ok: false, key, reserved, labs: labs.get(key) ?? 0 };
      }
    }
    this.#entries.set(request.id, {
      amounts: Object.entries(request.amounts),
      expiresAt: request.now + request.ttlMs,
    });
    return { ok: true };
  }

  async release(id: string, now: number, afterMs: number): Promise<void> {
    const entry = this.#entries.get(id);
    if (!entry) return;
    if (afterMs <= 0) this.#entries.delete(id);
    else entry.expiresAt = Math.min(entry.expiresAt, now + afterMs);
  }

  async reserved(now: number): Promise<Record<string, number>> {
    const totals: Record<string, number> = {};
    for (const entry of this.#entries.values()) {
      if (entry.expiresAt <= now) continue;
      for (const [key, amount] of entry.amounts) totals[key] = (totals[key] ?? 0) + amount;
    }
    return totals;
  }
}

/** A location's compute as a test sets it; counts reads and can fail them. */
export class FakeCapacity implements CapacityPort {
  usagesByLocation = new Map<string, ComputeUsage[]>();
  sizesByLocation = new Map<string, VmSizeInfo[]>();
  existing: ExistingCluster[] = [];
  reads = 0;
  failWith: Error | undefined;

  constructor(location = "centralus", limits: Record<string, number> = { cores: 10, standardBSFamily: 10 }) {
    this.usagesByLocation.set(
      location,
      Object.entries(limits).map(([name, limit]) => ({
        name,
        localizedName: name === "cores" ? "Total Regional vCPUs" : `${name} vCPUs`,
        current: 0,
        limit,
      })),
    );
    this.sizesByLocation.set(location, [
      { name: "Standard_B2s", family: "standardBSFamily", vCpus: 2, restrictions: [] },
      { name: "Standard_D2s_v5", family: "standardDSv5Family", vCpus: 2, restrictions: [] },
    ]);
  }

  setCurrent(location: string, name: string, current: number): void {
    const usage = this.usagesByLocation.get(location)?.find((u) => u.name === name);
    if (usage) usage.current = current;
  }

  restrict(location: string, size: string, reasonCode = "NotAvailableForSubscription"): void {
    const info = this.sizesByLocation.get(location)?.find((s) => s.name === size);
    if (info) info.restrictions = [{ type: "Location", reasonCode, zones: [] }];
  }

  #read<T>(value: T): Promise<T> {
    this.reads += 1;
    if (this.failWith) return Promise.reject(this.failWith);
    return Promise.resolve(structuredClone(value));
  }

  usages(location: string): Promise<ComputeUsage[]> {
    return this.#read(this.usagesByLocation.get(location) ?? []);
  }

  vmSizes(location: string): Promise<VmSizeInfo[]> {
    return this.#read(this.sizesByLocation.get(location) ?? []);
  }

  clusters(): Promise<ExistingCluster[]> {
    return this.#read(this.existing);
  }
}

export const READ_FAILURE = new ExternalError("azure", "Timeout", "read compute usages: no answer", {
  retryable: true,
});
