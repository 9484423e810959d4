import type { Redis } from "ioredis";
import { createAzureClients } from "../adapters/azure/clients.ts";
import { ArmCapacity, createComputeClient } from "../adapters/azure/compute.ts";
import { createAzureCredential } from "../adapters/azure/credential.ts";
import { KeyVaultSecrets } from "../adapters/azure/key-vault.ts";
import { ArmLabAzure } from "../adapters/azure/lab-azure.ts";
import { traceAzureSdk } from "../adapters/azure/tracing.ts";
import { KubeClusterPort } from "../adapters/kubernetes/cluster.ts";
import { RedisAuditLog } from "../adapters/redis/audit.ts";
import { RedisCapacityReservations } from "../adapters/redis/capacity-reservations.ts";
import { RedisLabCaps } from "../adapters/redis/caps.ts";
import { RedisLeases } from "../adapters/redis/leases.ts";
import { RedisLabRegistry, redisHostRegistry } from "../adapters/redis/registry.ts";
import { RedisRotationThreads, RedisWatchStateStore } from "../adapters/redis/watcher.ts";
import { labProcessors, type WorkflowDeps } from "../jobs/processors/index.ts";
import { BullLabScheduler } from "../jobs/scheduler.ts";
import { type Clock, systemClock } from "../src/clock.ts";
import type { Config } from "../src/config.ts";
import { fingerprintKey } from "../src/crypto.ts";
import { DEFAULT_LAB_SHAPE } from "../src/labs/create-plan.ts";
import { CapacityPreflight } from "../src/labs/preflight.ts";
import { PRICES, withOverrides } from "../src/labs/prices.ts";
import type { Logger } from "../src/log.ts";
import type { CapacityPort } from "../src/ports/capacity.ts";
import { type Metrics, NO_METRICS } from "../src/ports/metrics.ts";
import { NO_TRACING, type Tracing } from "../src/ports/tracing.ts";

/**
 * The lab workflows wired to the real adapters: the Azure SDKs with the
 * configured identity and CA, client-node, and Redis. Used by the worker role
 * (and by tests that run the worker in process).
 */
export interface Workflows {
  deps: WorkflowDeps;
  /** Compute quotas and VM sizes (the worker's start-up check). */
  capacity: CapacityPort;
  processors: ReturnType<typeof labProcessors>;
  scheduler: BullLabScheduler;
  close(): Promise<void>;
}

/** The Azure side on the SDKs with the configured identity and CA: the lab port and the Key Vault port. */
export function createAzurePorts(
  config: Config,
  options: { metrics?: Metrics; role?: string; clock?: Clock; tracing?: Tracing } = {},
): { azure: ArmLabAzure; keyVault: KeyVaultSecrets; capacity: ArmCapacity } {
  const clock = options.clock ?? systemClock(config.timeScale);
  const tracing = options.tracing ?? NO_TRACING;
  const azureConfig = config.azure;
  if (!azureConfig) throw new Error(`the ${options.role ?? "worker"} role needs the AZURE_* settings`);
  // The SDKs' own spans (HTTP attempts, Key Vault and Identity operations), for the whole process.
  traceAzureSdk(tracing);
  const credential = createAzureCredential({
    tenantId: azureConfig.tenantId,
    clientId: azureConfig.clientId,
    ...(azureConfig.clientSecret ? { clientSecret: azureConfig.clientSecret } : {}),
    ...(azureConfig.federatedTokenFile ? { federatedTokenFile: azureConfig.federatedTokenFile } : {}),
    authorityHost: azureConfig.authorityHost,
    ...(config.caPem ? { caPem: config.caPem } : {}),
  });
  const settings = {
    endpoint: azureConfig.armEndpoint,
    credential,
    subscriptionId: azureConfig.subscriptionId,
    ...(config.caPem ? { caPem: config.caPem } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  };
  const clients = createAzureClients(settings);
  return {
    capacity: new ArmCapacity(createComputeClient(settings), clients.containerService, clock),
    azure: new ArmLabAzure({
      clients,
      credential,
      subscriptionId: azureConfig.subscriptionId,
      tenantId: azureConfig.tenantId,
      armEndpoint: azureConfig.armEndpoint,
      clock,
      tracing,
    }),
    keyVault: new KeyVaultSecrets((vaultUri) => clients.secrets(vaultUri), clock),
  };
}

export function createWorkflows(
  config: Config,
  redis: Redis,
  options: {
    clock: Clock;
    metrics?: Metrics;
    logger?: Logger;
    tracing?: Tracing;
    overrides?: Partial<WorkflowDeps>;
  },
): Workflows {
  const azureConfig = config.azure;
  if (!azureConfig) throw new Error("the worker role needs the AZURE_* settings");
  const { clock } = options;
  const tracing = options.tracing ?? NO_TRACING;
  const { azure, keyVault, capacity } = createAzurePorts(config, {
    clock,
    tracing,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  const scheduler = new BullLabScheduler({ connection: redis, prefix: config.redisPrefix, clock });
  const deps: WorkflowDeps = {
    azure,
    keyVault,
    cluster: new KubeClusterPort({ clock, tracing }),
    rotationThreads: new RedisRotationThreads(redis, config.redisPrefix),
    watchState: new RedisWatchStateStore(redis, config.redisPrefix),
    registry: new RedisLabRegistry(redis, config.redisPrefix),
    hosts: redisHostRegistry(redis, config.redisPrefix),
    locks: new RedisLeases(redis, config.redisPrefix, "lock:lab"),
    scheduler,
    metrics: options.metrics ?? NO_METRICS,
    audit: new RedisAuditLog(redis, config.redisPrefix),
    settings: {
      location: azureConfig.location,
      subscriptionId: azureConfig.subscriptionId,
      tenantId: azureConfig.tenantId,
      defaultTtlMs: config.defaultTtlMs,
      maxTtlMs: config.maxTtlMs,
      maxLabLifetimeMs: config.caps.maxLabLifetimeMs,
      ...DEFAULT_LAB_SHAPE,
      vmSize: config.lab.vmSize,
      nodeCount: config.lab.nodeCount,
      lockTtlMs: 60_000,
    },
    // The pre-flight logs what it could not read, so it runs where there is a logger (the worker role).
    ...(options.logger
      ? {
          preflight: new CapacityPreflight({
            capacity,
            reservations: new RedisCapacityReservations(redis, config.redisPrefix),
            clock,
            logger: options.logger,
          }),
        }
      : {}),
    prices: withOverrides(PRICES, config.prices),
    fingerprintKey: fingerprintKey(config.secretKey),
    admins: config.admins,
    clock,
    tracing,
    caps: new RedisLabCaps(redis, config.redisPrefix),
    ...options.overrides,
  };
  return {
    deps,
    capacity,
    processors: labProcessors(deps),
    scheduler,
    async close() {
      await scheduler.close();
    },
  };
}
