/**
 * Compute capacity as the pre-flight needs it: the location's quotas and what
 * is used of them, the VM sizes offered there with their restrictions, and
 * the clusters that already take their share. Failures are ExternalErrors
 * (the adapter bounds every read by a timeout and a few retries).
 */

/** One quota of a location (Microsoft.Compute usages: `cores`, `standardBSFamily`, …). */
export interface ComputeUsage {
  /** Azure's usage name (`cores`). */
  name: string;
  /** As the portal shows it ("Total Regional vCPUs"). */
  localizedName: string;
  current: number;
  limit: number;
}

export interface SizeRestriction {
  /** `Location`: the size cannot be used in the location at all; `Zone`: not in some zones. */
  type: string;
  /** `NotAvailableForSubscription` or `QuotaId`. */
  reasonCode: string;
  zones: string[];
}

/** A VM size offered in a location (Microsoft.Compute resource SKUs). */
export interface VmSizeInfo {
  name: string;
  /** The usage name of its family's quota (`standardBSFamily`). */
  family: string;
  vCpus: number;
  restrictions: SizeRestriction[];
}

/** A managed cluster that exists: its node pools are in the usages already. */
export interface ExistingCluster {
  name: string;
  resourceGroup: string;
  location: string;
}

export interface CapacityPort {
  usages(location: string, signal: AbortSignal): Promise<ComputeUsage[]>;
  /** The VM sizes offered in `location` (empty when the location is unknown to Compute). */
  vmSizes(location: string, signal: AbortSignal): Promise<VmSizeInfo[]>;
  /** Every managed cluster of the subscription. */
  clusters(signal: AbortSignal): Promise<ExistingCluster[]>;
}

/**
 * What labs being created will take, before their clusters show in the
 * usages. `reserve` checks and records in one atomic step, so labs asked for
 * at the same moment cannot all take the last room.
 */
export interface ReservationRequest {
  /** The lab; a second reserve for the same id replaces the first. */
  id: string;
  /** vCPUs by usage key (`centralus/cores`, `centralus/standardBSFamily`). */
  amounts: Record<string, number>;
  /** What is left of each key before any reservation (limit minus the usages). */
  available: Record<string, number>;
  /** Reservations not to count: labs whose clusters the usages already include. */
  ignore: string[];
  /** Clock reading (ms); reservations whose expiry has passed are dropped. */
  now: number;
  ttlMs: number;
}

export type ReservationResult =
  | { ok: true }
  | {
      ok: false;
      /** The first key that does not fit. */
      key: string;
      /** What the other reservations counted take of it. */
      reserved: number;
      /** How many other reservations were counted for it. */
      labs: number;
    };

export interface CapacityReservations {
  reserve(request: ReservationRequest): Promise<ReservationResult>;
  /** Lets the reservation expire `afterMs` from `now` (at once when 0); absent is fine. */
  release(id: string, now: number, afterMs: number): Promise<void>;
  /** What the live reservations take, by key (for tests and `lab list`). */
  reserved(now: number): Promise<Record<string, number>>;
}
