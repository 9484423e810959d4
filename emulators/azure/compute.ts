import { AzureHttpError } from "./http.ts";

/**
 * Compute quotas and VM sizes, as Microsoft.Compute reports them and as AKS
 * enforces them on a managed cluster's node pools.
 *
 * Shapes (Azure/azure-rest-api-specs, specification/compute):
 * - `GET /subscriptions/{sub}/providers/Microsoft.Compute/locations/{location}/usages`
 *   answers ListUsagesResult `{ value: [{ unit: "Count", currentValue, limit,
 *   name: { value, localizedValue } }] }`; the names are Azure's usage names
 *   (`cores` "Total Regional vCPUs", `standardBSFamily` "Standard BS Family vCPUs",
 *   `virtualMachines`, `virtualMachineScaleSets`), as `az vm list-usage` prints them.
 * - `GET /subscriptions/{sub}/providers/Microsoft.Compute/skus` (2021-07-01,
 *   Skus/stable/2021-07-01/examples/skus/ListAvailableResourceSkusForARegion.json)
 *   answers ResourceSkusResult `{ value: [{ resourceType: "virtualMachines", name,
 *   tier, size, family, locations, locationInfo: [{ location, zones }],
 *   capabilities: [{ name: "vCPUs", value: "2" }, …], restrictions: [{ type:
 *   "Location" | "Zone", values, restrictionInfo: { locations, zones },
 *   reasonCode: "QuotaId" | "NotAvailableForSubscription" }] }] }`.
 *
 * What AKS answers when a create or scale would pass a quota, and for a size
 * the subscription may not use, is in `quotaExceeded` and `sizeNotAllowed`.
 */

export interface VmSku {
  name: string;
  /** The usage name of its family's quota (`standardBSFamily`). */
  family: string;
  vCpus: number;
  memoryGb: number;
}

/** The VM sizes the emulator offers; capabilities as Azure lists them for these sizes. */
export const VM_SKUS: readonly VmSku[] = [
  { name: "Standard_B2s", family: "standardBSFamily", vCpus: 2, memoryGb: 4 },
  { name: "Standard_B2ms", family: "standardBSFamily", vCpus: 2, memoryGb: 8 },
  { name: "Standard_B4ms", family: "standardBSFamily", vCpus: 4, memoryGb: 16 },
  { name: "Standard_DS2_v2", family: "standardDSv2Family", vCpus: 2, memoryGb: 7 },
  { name: "Standard_D2s_v3", family: "standardDSv3Family", vCpus: 2, memoryGb: 8 },
  { name: "Standard_D4s_v3", family: "standardDSv3Family", vCpus: 4, memoryGb: 16 },
  { name: "Standard_D2s_v5", family: "standardDSv5Family", vCpus: 2, memoryGb: 8 },
  { name: "Standard_D4s_v5", family: "standardDSv5Family", vCpus: 4, memoryGb: 16 },
  { name: "Standard_D2as_v5", family: "standardDASv5Family", vCpus: 2, memoryGb: 8 },
  { name: "Standard_NC6s_v3", family: "standardNCSv3Family", vCpus: 6, memoryGb: 112 },
];

/** Regions the emulated subscription can deploy compute to (every size is offered in each). */
export const COMPUTE_LOCATIONS: readonly string[] = [
  "centralus",
  "eastus",
  "eastus2",
  "westus2",
  "westus3",
  "northeurope",
  "westeurope",
  "uksouth",
  "swedencentral",
];

/** Localized names of the usages, as `az vm list-usage` shows them. */
export const USAGE_NAMES: Readonly<Record<string, string>> = {
  cores: "Total Regional vCPUs",
  virtualMachines: "Virtual Machines",
  virtualMachineScaleSets: "Virtual Machine Scale Sets",
  standardBSFamily: "Standard BS Family vCPUs",
  standardDSv2Family: "Standard DSv2 Family vCPUs",
  standardDSv3Family: "Standard DSv3 Family vCPUs",
  standardDSv5Family: "Standard DSv5 Family vCPUs",
  standardDASv5Family: "Standard DASv5 Family vCPUs",
  standardNCSv3Family: "Standard NCSv3 Family vCPUs",
};

/**
 * A new pay-as-you-go subscription's quotas: 10 regional vCPUs and 10 per
 * general-purpose family, GPU families at 0 until asked for (Microsoft's
 * "Azure subscription and service limits" and the quota blade of a new
 * subscription). What `npm run emulators` and `npm run demo` start with.
 */
export const PAY_AS_YOU_GO_QUOTAS: Readonly<Record<string, number>> = {
  cores: 10,
  virtualMachines: 25_000,
  virtualMachineScaleSets: 2_500,
  standardBSFamily: 10,
  standardDSv2Family: 10,
  standardDSv3Family: 10,
  standardDSv5Family: 10,
  standardDASv5Family: 10,
  standardNCSv3Family: 0,
};

/**
 * The in-process default (`startAzureEmulator()` without `compute.quotas`): a
 * subscription whose quotas were raised far above what any test or benchmark
 * builds (twenty labs at once), so only a test that sets quotas meets them.
 */
export const RAISED_QUOTAS: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(PAY_AS_YOU_GO_QUOTAS).map(([name, limit]) => [name, Math.max(limit, 1_000)]),
);

export interface ComputeSettings {
  /** Limits by usage name; names left out keep their default. */
  quotas?: Record<string, number>;
  /** VM sizes the subscription may not use (a `NotAvailableForSubscription` restriction in every location). */
  restrictedSizes?: string[];
}

/** One node pool as the quota sees it. */
export interface PoolDemand {
  name: string;
  vmSize: string;
  count: number;
}

export interface QuotaShortfall {
  usage: string;
  limit: number;
  current: number;
  additional: number;
}

const lower = (s: string) => s.toLowerCase();

export function findSku(name: string): VmSku | undefined {
  return VM_SKUS.find((s) => lower(s.name) === lower(name));
}

/** Checks a usage name and a limit from the command line or the control API. */
export function validateQuota(name: string, limit: number): void {
  if (!(name in USAGE_NAMES)) {
    throw new RangeError(`unknown usage name '${name}'; known: ${Object.keys(USAGE_NAMES).join(", ")}`);
  }
  if (!Number.isInteger(limit) || limit < 0) {
    throw new RangeError(`quota ${name} must be a non-negative integer, got ${limit}`);
  }
}

export function validateSize(name: string): string {
  const sku = findSku(name);
  if (!sku)
    throw new RangeError(`unknown VM size '${name}'; known: ${VM_SKUS.map((s) => s.name).join(", ")}`);
  return sku.name;
}

/** The quotas and restrictions of the emulated subscription, changeable while it runs. */
export class ComputeModel {
  readonly #limits = new Map<string, number>();
  readonly #restricted = new Set<string>();

  constructor(defaults: Readonly<Record<string, number>>, settings: ComputeSettings = {}) {
    for (const [name, limit] of Object.entries(defaults)) this.#limits.set(name, limit);
    for (const [name, limit] of Object.entries(settings.quotas ?? {})) this.setQuota(name, limit);
    for (const size of settings.restrictedSizes ?? []) this.restrictSize(size, true);
  }

  setQuota(name: string, limit: number): void {
    validateQuota(name, limit);
    this.#limits.set(name, limit);
  }

  restrictSize(size: string, restricted: boolean): void {
    const name = validateSize(size);
    if (restricted) this.#restricted.add(name);
    else this.#restricted.delete(name);
  }

  isRestricted(size: string): boolean {
    const sku = findSku(size);
    return sku !== undefined && this.#restricted.has(sku.name);
  }

  settings(): { quotas: Record<string, number>; restrictedSizes: string[] } {
    return { quotas: Object.fromEntries(this.#limits), restrictedSizes: [...this.#restricted] };
  }

  limit(name: string): number {
    return this.#limits.get(name) ?? 0;
  }

  /** What `pools` take of each usage (vCPUs of the regional total and of each family, VMs, scale sets). */
  static demand(pools: readonly PoolDemand[]): Map<string, number> {
    const out = new Map<string, number>();
    const add = (name: string, n: number) => out.set(name, (out.get(name) ?? 0) + n);
    for (const pool of pools) {
      const sku = findSku(pool.vmSize);
      if (!sku || pool.count <= 0) continue;
      add("cores", sku.vCpus * pool.count);
      add(sku.family, sku.vCpus * pool.count);
      add("virtualMachines", pool.count);
      add("virtualMachineScaleSets", 1);
    }
    return out;
  }

  /** ListUsagesResult items for what `inUse` takes, every known usage listed. */
  usages(inUse: ReadonlyMap<string, number>): Array<Record<string, unknown>> {
    return Object.entries(USAGE_NAMES).map(([value, localizedValue]) => ({
      unit: "Count",
      currentValue: inUse.get(value) ?? 0,
      limit: this.limit(value),
      name: { value, localizedValue },
    }));
  }

  /**
   * The first quota `extra` would pass on top of `inUse` (the regional total
   * first, as AKS reports it), or undefined when everything fits.
   */
  shortfall(
    inUse: ReadonlyMap<string, number>,
    extra: ReadonlyMap<string, number>,
  ): QuotaShortfall | undefined {
    const names = [...extra.keys()].sort((a, b) => (a === "cores" ? -1 : b === "cores" ? 1 : 0));
    for (const usage of names) {
      const additional = extra.get(usage) ?? 0;
      if (additional <= 0) continue;
      const current = inUse.get(usage) ?? 0;
      const limit = this.limit(usage);
      if (current + additional > limit) return { usage, limit, current, additional };
    }
    return undefined;
  }

  /** ResourceSkusResult items for the VM sizes, in `location` only when given. */
  skus(location: string | undefined): Array<Record<string, unknown>> {
    const locations = location ? COMPUTE_LOCATIONS.filter((l) => l === lower(location)) : COMPUTE_LOCATIONS;
    if (locations.length === 0) return [];
    return VM_SKUS.map((sku) => ({
      resourceType: "virtualMachines",
      name: sku.name,
      tier: "Standard",
      size: sku.name.replace(/^Standard_/, ""),
      family: sku.family,
      locations: [...locations],
      locationInfo: locations.map((l) => ({ location: l, zones: ["1", "2", "3"], zoneDetails: [] })),
      capabilities: [
        { name: "vCPUs", value: String(sku.vCpus) },
        { name: "MemoryGB", value: String(sku.memoryGb) },
        { name: "vCPUsAvailable", value: String(sku.vCpus) },
        { name: "HyperVGenerations", value: "V1,V2" },
        { name: "PremiumIO", value: sku.name.includes("s") ? "True" : "False" },
      ],
      restrictions: this.#restricted.has(sku.name)
        ? locations.map((l) => ({
            type: "Location",
            values: [l],
            restrictionInfo: { locations: [l] },
            reasonCode: "NotAvailableForSubscription",
          }))
        : [],
    }));
  }
}

/** Whether `location` is a region the emulated subscription can deploy compute to. */
export function offersLocation(location: string): boolean {
  return COMPUTE_LOCATIONS.includes(lower(location));
}

/**
 * AKS's answer to a create or scale that would pass a quota: 400 QuotaExceeded,
 * worded as AKS words it (the inner Compute message is CRP's), e.g.
 * github.com/mspnp/aks-baseline/issues/377: "Provisioning of resource(s) for
 * container service aks-… in resource group rg-… failed. Message: Operation
 * could not be completed as it results in exceeding approved Total Regional
 * Cores quota. Additional details - Deployment Model: Resource Manager,
 * Location: eastus2, Current Limit: 10, Current Usage: 0, Additional Required:
 * 14, (Minimum) New Limit Required: 14. …", and for a family "exceeding
 * approved standardDSv3Family Cores quota" (learn.microsoft.com, AKS
 * troubleshooting, QuotaExceeded).
 */
export function quotaExceeded(
  cluster: { name: string; resourceGroup: string; location: string; subscriptionId: string },
  s: QuotaShortfall,
): AzureHttpError {
  const quota = s.usage === "cores" ? "Total Regional Cores" : `${s.usage} Cores`;
  const newLimit = s.current + s.additional;
  const details = encodeURIComponent(
    JSON.stringify({
      SubscriptionId: cluster.subscriptionId,
      Command: "openQuotaApprovalBlade",
      QuotaDetails: [{ Region: cluster.location, FamilyName: s.usage, NewLimit: newLimit, Type: "Regional" }],
    }),
  );
  return new AzureHttpError(
    400,
    "QuotaExceeded",
    `Provisioning of resource(s) for container service ${cluster.name} in resource group ${cluster.resourceGroup} failed. Message: Operation could not be completed as it results in exceeding approved ${quota} quota. Additional details - Deployment Model: Resource Manager, Location: ${cluster.location}, Current Limit: ${s.limit}, Current Usage: ${s.current}, Additional Required: ${s.additional}, (Minimum) New Limit Required: ${newLimit}. Submit a request for Quota increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView/Parameters/${details} by specifying parameters listed in the ‘Details’ section for deployment to succeed. Please read more about quota limits at https://docs.microsoft.com/en-us/azure/azure-supportability/regional-quota-requests`,
  );
}

/**
 * AKS's answer to a node pool of a size the subscription may not use in the
 * location: 400 BadRequest, "The VM size of Standard_B2s is not allowed in
 * your subscription in location 'westus2'. The available VM sizes are '…'"
 * (github.com/hashicorp-education/learn-terraform-provision-aks-cluster/issues/15;
 * github.com/dotnet/core/issues/8181 for the aka.ms link). AKS's own form of
 * Compute's SkuNotAvailable ("The requested size for resource … is currently
 * not available in location …", learn.microsoft.com, error-sku-not-available),
 * which AKS checks before any VM exists.
 */
export function sizeNotAllowed(model: ComputeModel, vmSize: string, location: string): AzureHttpError {
  const available = VM_SKUS.filter((s) => !model.isRestricted(s.name))
    .map((s) => lower(s.name))
    .sort()
    .join(",");
  return new AzureHttpError(
    400,
    "BadRequest",
    `The VM size of ${vmSize} is not allowed in your subscription in location '${location}'. The available VM sizes are '${available}'. For more details, please visit https://aka.ms/aks/quotas-skus-regions`,
  );
}

/**
 * `--quota NAME=N` (repeatable) and `--restrict-size SIZE` (repeatable) as the
 * command lines take them, on top of a new pay-as-you-go subscription's
 * quotas. Throws a RangeError naming the bad flag.
 */
export function computeFromFlags(
  quotas: readonly string[] = [],
  restrictedSizes: readonly string[] = [],
): ComputeSettings & { defaults: Readonly<Record<string, number>> } {
  const parsed: Record<string, number> = {};
  for (const flag of quotas) {
    const m = /^([A-Za-z][A-Za-z0-9_]*)=(\d+)$/.exec(flag.trim());
    if (!m) throw new RangeError(`--quota takes NAME=N (e.g. cores=10), got '${flag}'`);
    const name = m[1] ?? "";
    const limit = Number(m[2]);
    validateQuota(name, limit);
    parsed[name] = limit;
  }
  return {
    defaults: PAY_AS_YOU_GO_QUOTAS,
    quotas: parsed,
    restrictedSizes: restrictedSizes.map((s) => validateSize(s.trim())),
  };
}
