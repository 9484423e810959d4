import type { Clock } from "../../src/clock.ts";
import type { CapacityPreflight } from "../../src/labs/preflight.ts";
import type { PriceBook } from "../../src/labs/prices.ts";
import type { AuditLog } from "../../src/ports/audit.ts";
import type { AzureLabPort, KeyVaultPort } from "../../src/ports/azure.ts";
import type { ClusterPort } from "../../src/ports/cluster.ts";
import type { Leases } from "../../src/ports/leases.ts";
import type { Metrics } from "../../src/ports/metrics.ts";
import type { HostRegistry, LabRegistry } from "../../src/ports/registry.ts";
import type { LabScheduler } from "../../src/ports/scheduler.ts";
import type { RotationThreads, WatchStateStore } from "../../src/ports/watcher.ts";

/** Everything the lab workflows reach outside themselves, injected by the composition root. */
export interface WorkflowDeps {
  azure: AzureLabPort;
  keyVault: KeyVaultPort;
  cluster: ClusterPort;
  registry: LabRegistry;
  /** The host clusters labs share (`host create`, `lab create NAME --on HOST`). */
  hosts: HostRegistry;
  locks: Leases;
  scheduler: LabScheduler;
  /** Where rotate and rollback leave their thread for the rotation watcher to finish. */
  rotationThreads: RotationThreads;
  /** The rotation watcher's state per lab, forgotten when the lab is destroyed. */
  watchState: Pick<WatchStateStore, "delete">;
  metrics: Metrics;
  /** The audit trail, for `lab status` to show a lab's recent commands. */
  audit?: AuditLog;
  settings: WorkflowSettings;
  /** Quota and VM size check before a lab creates anything (none: the create is not checked). */
  preflight?: Pick<CapacityPreflight, "check" | "release">;
  /** Prices for the cost lines of cards (none: no cost shown). */
  prices?: PriceBook;
  /** The key of the rotation card's fingerprint (`fingerprintKey(LABOPS_SECRET_KEY)`), never the sealing key. */
  fingerprintKey: Buffer;
  /** Every wait and timestamp of the workflows; its time scale (LABOPS_TIME_SCALE) divides their own waits. */
  clock: Clock;
}

export interface WorkflowSettings {
  location: string;
  subscriptionId: string;
  tenantId: string;
  defaultTtlMs: number;
  maxTtlMs: number;
  replicas: number;
  nodeCount: number;
  vmSize: string;
  rotationPollInterval: string;
  /** How long a lab lock lives without renewal. */
  lockTtlMs: number;
}
