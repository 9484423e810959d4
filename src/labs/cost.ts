import { type PriceBook, pricesFor } from "./prices.ts";

/** What a lab is billed for by the hour: its nodes, its cluster's tier, its load balancer and IP, its vault. */
export interface LabShape {
  nodeCount: number;
  vmSize: string;
  /** AKS tier: Free (labops' default), Standard or Premium. */
  tier: string;
}

export interface CostLine {
  item: string;
  hourly: number;
}

export interface LabCost {
  currency: string;
  /** Sum of the lines (what has no price is left out and named in `unpriced`). */
  hourly: number;
  lines: CostLine[];
  unpriced: string[];
}

/** The hourly estimate of a lab of `shape` in `location`, from `prices`. Pure. */
export function labHourlyCost(shape: LabShape, location: string, prices: PriceBook): LabCost {
  const table = pricesFor(prices, location);
  const lines: CostLine[] = [];
  const unpriced: string[] = [];
  const vm = table.vm[shape.vmSize];
  if (vm === undefined) unpriced.push(shape.vmSize);
  else lines.push({ item: `${shape.nodeCount} × ${shape.vmSize}`, hourly: vm * shape.nodeCount });
  lines.push({ item: `${shape.nodeCount} × OS disk`, hourly: table.osDisk * shape.nodeCount });
  const tier = table.clusterTier[shape.tier];
  if (tier === undefined) unpriced.push(`AKS ${shape.tier} tier`);
  else lines.push({ item: `AKS ${shape.tier} tier`, hourly: tier });
  lines.push({ item: "load balancer", hourly: table.loadBalancer });
  lines.push({ item: "public IP", hourly: table.publicIp });
  lines.push({ item: "Key Vault", hourly: table.vault });
  const hourly = lines.reduce((sum, l) => sum + l.hourly, 0);
  return { currency: table.currency, hourly, lines, unpriced };
}

/** "$0.17" (two decimals; four below a cent). */
export function formatMoney(amount: number, currency = "USD"): string {
  const symbol = currency === "USD" ? "$" : `${currency} `;
  const digits = amount > 0 && amount < 0.01 ? 4 : 2;
  return `${symbol}${amount.toFixed(digits)}`;
}

/** "≈ $0.17/h" (with "+ unpriced Standard_X" when a part has no price). */
export function formatHourly(cost: LabCost): string {
  const missing = cost.unpriced.length ? ` + ${cost.unpriced.join(", ")} (no price)` : "";
  return `≈ ${formatMoney(cost.hourly, cost.currency)}/h${missing}`;
}

/**
 * What a lab has cost since `createdAt`, in Azure's time: in an emulated world
 * running `timeScale` times faster, an hour there passes in 60/timeScale minutes.
 */
export function costSoFar(cost: LabCost, createdAt: number, now: number, timeScale = 1): number {
  const hours = (Math.max(0, now - createdAt) * timeScale) / 3_600_000;
  return cost.hourly * hours;
}

/** What the cost lines of cards need: the lab shape in force, the prices, the world's time scale. */
export interface CostSettings {
  nodeCount: number;
  vmSize: string;
  /** AKS tier of labops' clusters. */
  tier?: string;
  timeScale: number;
  prices: PriceBook;
}

export function labCostIn(settings: CostSettings, location: string): LabCost {
  return labHourlyCost(
    { nodeCount: settings.nodeCount, vmSize: settings.vmSize, tier: settings.tier ?? "Free" },
    location,
    settings.prices,
  );
}

/** "≈ $0.17/h · about $0.34 so far" for a lab's card. */
export function labCostText(
  settings: CostSettings,
  lab: { location: string; createdAt: number },
  now: number,
): string {
  const cost = labCostIn(settings, lab.location);
  const spent = costSoFar(cost, lab.createdAt, now, settings.timeScale);
  return `${formatHourly(cost)} · about ${formatMoney(spent, cost.currency)} so far`;
}

/** The labs that bill (everything but a destroyed one) and what they cost together by the hour. */
export function labsHourlyTotal(
  settings: CostSettings,
  labs: ReadonlyArray<{ location: string; state: string }>,
): string {
  const live = labs.filter((l) => l.state !== "destroyed");
  const total = live.reduce((sum, l) => sum + labCostIn(settings, l.location).hourly, 0);
  return `≈ ${formatMoney(total)}/h for ${live.length} live lab${live.length === 1 ? "" : "s"}`;
}
