import type { Clock } from "../../src/clock.ts";
import type { CapacityPreflight } from "../../src/labs/preflight.ts";
import type { PriceBook } from "../../src/labs/prices.ts";
import type { AuditLog } from "../../src/ports/audit.ts";
import type { AzureLabPort, KeyVaultPort } from "../../src/ports/azure.ts";
import type { LabCaps } from "../../src/ports/caps.ts";
import type { ClusterPort } from "../../src/ports/cluster.ts";
import type { Leases } from "../../src/ports/leases.ts";
import type { Metrics } from "../../src/ports/metrics.ts";
import type { HostRegistry, LabRegistry } from "../../src/ports/registry.ts";
import type { LabScheduler } from "../../src/ports/scheduler.ts";
import type { Tracing } from "../../src/ports/tracing.ts";
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
  /** LABOPS_ADMINS: they see every lab's details in `lab list` (none: nobody does outside a lab's conversation). */
  admins?: readonly string[];
  /** Every wait and timestamp of the workflows; its time scale (LABOPS_TIME_SCALE) divides their own waits. */
  clock: Clock;
  /** The plans' and steps' spans (the calls' own come from the adapters); NO_TRACING when absent. */
  tracing?: Tracing;
  /** The caps: a create lets go of the name intake held for it once its record guards it (none: nothing held). */
  caps?: Pick<LabCaps, "release">;
}

export interface WorkflowSettings {
  location: string;
  subscriptionId: string;
  tenantId: string;
  defaultTtlMs: number;
  maxTtlMs: number;
  /** LABOPS_MAX_LAB_LIFETIME: no expiry, set by create or extend, goes past creation plus this (scaled). */
  maxLabLifetimeMs: number;
  replicas: number;
  nodeCount: number;
  vmSize: string;
  rotationPollInterval: string;
  /** How long a lab lock lives without renewal. */
  lockTtlMs: number;
}
