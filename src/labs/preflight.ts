import type { Clock } from "../clock.ts";
import { errorCode } from "../errors.ts";
import type { Logger } from "../log.ts";
import type {
  CapacityPort,
  CapacityReservations,
  ComputeUsage,
  ExistingCluster,
  VmSizeInfo,
} from "../ports/capacity.ts";

/**
 * The pre-flight of a lab that creates a cluster: before anything exists in
 * Azure, does the location offer the VM size to this subscription, and do the
 * lab's vCPUs fit the regional quota and the size's family quota, counting
 * what labs being created will take (their clusters are not in the usages
 * yet)? Azure itself says no only after the resource group, the vault and the
 * identity exist, minutes into the create; this says it in a second, with what
 * to do about it.
 *
 * Reads (usages, VM sizes, clusters) are cached briefly per location, as one
 * snapshot so that a lab's cluster is either in the usages and in the cluster
 * list or in neither. In-flight labs hold a reservation (keyed by their
 * cluster name) from the check until they are ready or failed; a reservation
 * whose cluster the snapshot lists is not counted again. Released
 * reservations linger for the cache's lifetime, so a snapshot read before the
 * cluster existed still counts them. When the reads fail, the check says so
 * in the log and lets the create go on: Azure will still refuse what does not
 * fit.
 */

export const QUOTA_PORTAL_URL =
  "https://portal.azure.com/#view/Microsoft_Azure_Capacity/QuotaMenuBlade/~/myQuotas";
export const SKU_NOT_AVAILABLE_URL = "https://aka.ms/azureskunotavailable";

export interface LabDemand {
  lab: string;
  /** The lab's cluster name: the reservation's id. */
  cluster: string;
  location: string;
  nodeCount: number;
  vmSize: string;
}

export type PreflightRefusal = "QuotaExceeded" | "SizeNotAvailable" | "SizeNotOffered" | "LocationNotOffered";

export type PreflightDecision =
  /** `checked` false: the reads failed and the create goes on unchecked. */
  { ok: true; checked: boolean; reserved: boolean } | { ok: false; code: PreflightRefusal; message: string };

export interface PreflightOptions {
  capacity: CapacityPort;
  reservations: CapacityReservations;
  clock: Clock;
  logger: Pick<Logger, "info" | "warn">;
  /** How long a read snapshot is reused. Default 10 s of Azure time (`clock.scaled`: shorter in a faster world). */
  cacheMs?: number;
  /** How long a reservation lives without a release (a lab that never finishes). Default 30 min of Azure time. */
  reservationTtlMs?: number;
}

interface Snapshot {
  at: number;
  usages: ComputeUsage[];
  sizes: VmSizeInfo[];
  clusters: ExistingCluster[];
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export class CapacityPreflight {
  readonly #o: Required<Omit<PreflightOptions, "logger" | "capacity" | "reservations" | "clock">> &
    PreflightOptions;
  readonly #snapshots = new Map<string, Snapshot>();
  readonly #reading = new Map<string, Promise<Snapshot>>();

  constructor(options: PreflightOptions) {
    this.#o = {
      cacheMs: options.clock.scaled(10_000),
      // A lab's create takes about ten minutes in Azure; three times that, then the room is given back.
      reservationTtlMs: Math.max(60_000, options.clock.scaled(30 * 60_000)),
      ...options,
    };
  }

  /** The location's usages, VM sizes and clusters, from the cache when fresh. */
  async #snapshot(location: string, signal: AbortSignal): Promise<Snapshot> {
    const key = location.toLowerCase();
    const cached = this.#snapshots.get(key);
    if (cached && this.#o.clock.now() - cached.at < this.#o.cacheMs) return cached;
    let reading = this.#reading.get(key);
    if (!reading) {
      const { capacity } = this.#o;
      reading = Promise.all([
        capacity.usages(location, signal),
        capacity.vmSizes(location, signal),
        capacity.clusters(signal),
      ])
        .then(([usages, sizes, clusters]) => {
          const snapshot = { at: this.#o.clock.now(), usages, sizes, clusters };
          this.#snapshots.set(key, snapshot);
          return snapshot;
        })
        .finally(() => this.#reading.delete(key));
      this.#reading.set(key, reading);
    }
    return reading;
  }

  /** Decides whether the lab fits; when it does, its vCPUs stay reserved until `release`. */
  async check(demand: LabDemand, signal: AbortSignal): Promise<PreflightDecision> {
    let snapshot: Snapshot;
    try {
      snapshot = await this.#snapshot(demand.location, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      this.#o.logger.warn(
        { lab: demand.lab, location: demand.location, code: errorCode(error), err: error },
        "preflight.reads_failed: the compute quota could not be read; the create goes on unchecked",
      );
      return { ok: true, checked: false, reserved: false };
    }
    const refusal = sizeRefusal(demand, snapshot);
    if (refusal) return refusal;
    const size = snapshot.sizes.find((s) => same(s.name, demand.vmSize));
    if (!size) return { ok: true, checked: true, reserved: false };
    const here = snapshot.clusters.filter((c) => same(c.location, demand.location));
    // A retried lab whose cluster exists already takes nothing more.
    if (here.some((c) => same(c.name, demand.cluster))) return { ok: true, checked: true, reserved: false };

    const vCpus = demand.nodeCount * size.vCpus;
    const loc = demand.location.toLowerCase();
    const amounts: Record<string, number> = {};
    const available: Record<string, number> = {};
    const quotas = new Map<string, ComputeUsage>();
    for (const name of ["cores", size.family]) {
      const usage = snapshot.usages.find((u) => u.name === name);
      // A quota Azure does not report is not one labops can check.
      if (!usage) continue;
      amounts[`${loc}/${name}`] = vCpus;
      available[`${loc}/${name}`] = usage.limit - usage.current;
      quotas.set(`${loc}/${name}`, usage);
    }
    const result = await this.#o.reservations.reserve({
      id: demand.cluster,
      amounts,
      available,
      ignore: here.map((c) => c.name),
      now: this.#o.clock.now(),
      ttlMs: this.#o.reservationTtlMs,
    });
    if (result.ok) {
      this.#o.logger.info({ lab: demand.lab, location: demand.location, vCpus }, "preflight.reserved");
      return { ok: true, checked: true, reserved: true };
    }
    const usage = quotas.get(result.key);
    if (!usage) return { ok: true, checked: true, reserved: false };
    return {
      ok: false,
      code: "QuotaExceeded",
      message: quotaMessage(demand, size, usage, result.reserved, result.labs, snapshot),
    };
  }

  /**
   * Gives the lab's reservation back (ready, failed, or refused later). It
   * lingers for the cache's lifetime: a snapshot read before the cluster
   * existed must still count it. This process's snapshot is dropped.
   */
  async release(demand: Pick<LabDemand, "cluster" | "location">): Promise<void> {
    this.#snapshots.delete(demand.location.toLowerCase());
    await this.#o.reservations.release(demand.cluster, this.#o.clock.now(), this.#o.cacheMs);
  }
}

function sizeRefusal(demand: LabDemand, snapshot: Snapshot): PreflightDecision | undefined {
  const { lab, location, vmSize } = demand;
  const head = `Lab \`${lab}\` was not created, and nothing of it exists in Azure:`;
  if (snapshot.sizes.length === 0) {
    return {
      ok: false,
      code: "LocationNotOffered",
      message: `${head} Azure offers no VM size to this subscription in \`${location}\`, so no cluster can be built there.\nWhat you can do: an admin sets AZURE_LOCATION to a region this subscription can use (\`az account list-locations -o table\`).`,
    };
  }
  const size = snapshot.sizes.find((s) => same(s.name, vmSize));
  const restriction = size?.restrictions.find((r) => same(r.type, "Location"));
  if (size && !restriction) return undefined;
  const others = alternatives(snapshot, size?.vCpus ?? 2, vmSize);
  const instead = others.length ? ` (offered here: ${others.map((s) => `\`${s}\``).join(", ")})` : "";
  const why = size
    ? `the VM size \`${vmSize}\` is not available to this subscription in \`${location}\` (${restriction?.reasonCode ?? "restricted"})`
    : `Azure does not offer the VM size \`${vmSize}\` in \`${location}\``;
  return {
    ok: false,
    code: size ? "SizeNotAvailable" : "SizeNotOffered",
    message: [
      `${head} ${why}.`,
      "What you can do:",
      `• another size or region: an admin sets LABOPS_VM_SIZE${instead} or AZURE_LOCATION`,
      `• ask Azure support to enable \`${vmSize}\` in \`${location}\`: ${SKU_NOT_AVAILABLE_URL}`,
    ].join("\n"),
  };
}

/** Unrestricted sizes of the location with the same vCPUs whose family quota has room. */
function alternatives(snapshot: Snapshot, vCpus: number, except: string): string[] {
  return snapshot.sizes
    .filter((s) => !same(s.name, except) && s.vCpus === vCpus && s.restrictions.length === 0)
    .filter((s) => {
      const family = snapshot.usages.find((u) => u.name === s.family);
      return !family || family.limit - family.current > 0;
    })
    .map((s) => s.name)
    .slice(0, 3);
}

function quotaMessage(
  demand: LabDemand,
  size: VmSizeInfo,
  usage: ComputeUsage,
  reserved: number,
  labs: number,
  snapshot: Snapshot,
): string {
  const needed = demand.nodeCount * size.vCpus;
  const left = Math.max(0, usage.limit - usage.current - reserved);
  const inFlight = labs > 0 ? `, ${reserved} held by ${labs} lab${labs === 1 ? "" : "s"} being created` : "";
  const lines = [
    `Lab \`${demand.lab}\` was not created, and nothing of it exists in Azure: it needs ${needed} vCPUs (${demand.nodeCount} × \`${demand.vmSize}\`, ${size.vCpus} vCPUs each) of the *${usage.localizedName}* quota (\`${usage.name}\`) in \`${demand.location}\`, and ${left} ${left === 1 ? "is" : "are"} left (limit ${usage.limit}, ${usage.current} in use${inFlight}).`,
    "What you can do:",
  ];
  if (labs > 0) {
    lines.push(
      `• fewer labs at once: ${labs} ${labs === 1 ? "is" : "are"} being created; try again when ${labs === 1 ? "it is" : "they are"} ready`,
    );
  }
  lines.push("• destroy a lab you no longer need (`lab list` shows them)");
  if (demand.nodeCount > 1 && left >= size.vCpus) {
    lines.push(`• a smaller lab: one node (${size.vCpus} vCPUs) fits; an admin sets LABOPS_NODE_COUNT=1`);
  }
  const others = usage.name === "cores" ? [] : alternatives(snapshot, size.vCpus, demand.vmSize);
  const otherSizes = others.length
    ? ` (a size of another family has its own quota: ${others.map((s) => `\`${s}\``).join(", ")})`
    : "";
  lines.push(`• another region or size: an admin sets AZURE_LOCATION or LABOPS_VM_SIZE${otherSizes}`);
  lines.push(
    `• ask for a quota increase of \`${usage.name}\` in \`${demand.location}\` to at least ${usage.current + reserved + needed}: ${QUOTA_PORTAL_URL}`,
  );
  return lines.join("\n");
}
