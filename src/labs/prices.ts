/**
 * Hourly list prices of what a lab is made of, in USD, pay-as-you-go, Linux,
 * for the default region (centralus; East US and Central US list the same
 * figures for these items).
 *
 * Source: Azure's public price pages (Linux Virtual Machines, Azure
 * Kubernetes Service, Managed Disks, Load Balancer, IP Addresses, Key Vault),
 * the same figures the Azure Retail Prices API returns, e.g.
 * `https://prices.azure.com/api/retail/prices?$filter=armRegionName eq 'centralus' and armSkuName eq 'Standard_B2s' and priceType eq 'Consumption'`.
 * Date: entered 2026-12-03. They were not re-read live when entered: check
 * them with that query before quoting a bill, and override them per location
 * with LABOPS_PRICES (see README, "Pre-flight and cost").
 */

export interface PriceTable {
  currency: "USD";
  /** Per VM size, per node-hour. */
  vm: Record<string, number>;
  /** AKS control plane per cluster-hour by tier (Free has none). */
  clusterTier: Record<string, number>;
  /** A node's OS disk per hour: AKS's default 128 GiB managed disk, Premium SSD P10 ($19.71 a month / 730 h). */
  osDisk: number;
  /** The cluster's Standard Load Balancer (up to five rules) per hour. */
  loadBalancer: number;
  /** Its Standard static public IP per hour. */
  publicIp: number;
  /** Key Vault Standard has no hourly charge: $0.03 per 10,000 operations, a rounding error for a lab. */
  vault: number;
}

export interface PriceBook {
  source: string;
  date: string;
  default: PriceTable;
  /** Per location (`westeurope`), what differs from the default. */
  locations: Record<string, PriceOverride>;
}

export interface PriceOverride {
  vm?: Record<string, number> | undefined;
  clusterTier?: Record<string, number> | undefined;
  osDisk?: number | undefined;
  loadBalancer?: number | undefined;
  publicIp?: number | undefined;
  vault?: number | undefined;
}

export const PRICES: PriceBook = {
  source: "Azure pay-as-you-go list prices (Linux), Azure price pages / Retail Prices API, centralus",
  date: "2026-12-03",
  default: {
    currency: "USD",
    vm: {
      Standard_B2s: 0.0416,
      Standard_B2ms: 0.0832,
      Standard_B4ms: 0.166,
      Standard_DS2_v2: 0.146,
      Standard_D2s_v3: 0.096,
      Standard_D4s_v3: 0.192,
      Standard_D2s_v5: 0.096,
      Standard_D4s_v5: 0.192,
      Standard_D2as_v5: 0.086,
    },
    clusterTier: { Free: 0, Standard: 0.1, Premium: 0.6 },
    osDisk: 0.027,
    loadBalancer: 0.025,
    publicIp: 0.005,
    vault: 0,
  },
  locations: {},
};

/** The book with LABOPS_PRICES's per-location overrides added. */
export function withOverrides(book: PriceBook, overrides: Record<string, PriceOverride>): PriceBook {
  const locations: Record<string, PriceOverride> = { ...book.locations };
  for (const [location, o] of Object.entries(overrides)) {
    const key = location.toLowerCase();
    const before = locations[key] ?? {};
    locations[key] = {
      ...before,
      ...o,
      vm: { ...before.vm, ...o.vm },
      clusterTier: { ...before.clusterTier, ...o.clusterTier },
    };
  }
  return { ...book, locations };
}

/** The table in force in `location`: the default with the location's overrides. */
export function pricesFor(book: PriceBook, location: string): PriceTable {
  const o = book.locations[location.toLowerCase()] ?? {};
  const d = book.default;
  return {
    currency: d.currency,
    vm: { ...d.vm, ...o.vm },
    clusterTier: { ...d.clusterTier, ...o.clusterTier },
    osDisk: o.osDisk ?? d.osDisk,
    loadBalancer: o.loadBalancer ?? d.loadBalancer,
    publicIp: o.publicIp ?? d.publicIp,
    vault: o.vault ?? d.vault,
  };
}
