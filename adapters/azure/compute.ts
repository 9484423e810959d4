import { ComputeManagementClient, type ResourceSku } from "@azure/arm-compute";
import type { ContainerServiceClient } from "@azure/arm-containerservice";
import { type BackoffPolicy, backoff, type Clock } from "../../src/clock.ts";
import { CancelledError, ExternalError } from "../../src/errors.ts";
import type {
  CapacityPort,
  ComputeUsage,
  ExistingCluster,
  SizeRestriction,
  VmSizeInfo,
} from "../../src/ports/capacity.ts";
import { type AzureClientSettings, PUBLIC_ARM_ENDPOINT } from "./clients.ts";
import { toAzureError } from "./errors.ts";
import { metricsPolicy } from "./metrics-policy.ts";

/**
 * The compute capacity reads on @azure/arm-compute (usages and resource SKUs)
 * and the cluster list on @azure/arm-containerservice. A pre-flight must
 * answer in seconds, so each read is bounded: a timeout for the whole read,
 * retries (of throttling, 5xx and network faults only) with the house backoff
 * that never waits less than a Retry-After, and none that would end past the
 * timeout. The SDK's own retries are off for this client, so the bound holds.
 */

export interface CapacityReadOptions {
  /** Whole-read budget, retries included (real ms: a user is waiting). Default 3 s. */
  timeoutMs?: number;
  /** Attempts per read. Default 3. */
  attempts?: number;
  backoff?: BackoffPolicy;
  random?: () => number;
}

/** The compute client on the same pipeline as the others: endpoint, CA, metrics (createAzureClients). */
export function createComputeClient(settings: AzureClientSettings): ComputeManagementClient {
  return new ComputeManagementClient(settings.credential, settings.subscriptionId, {
    endpoint: (settings.endpoint ?? PUBLIC_ARM_ENDPOINT).replace(/\/+$/, ""),
    ...(settings.caPem ? { tlsOptions: { ca: settings.caPem } } : {}),
    // Retries are ours (bounded by the read's timeout); the SDK would wait out a long Retry-After.
    retryOptions: { maxRetries: 0 },
    ...(settings.metrics
      ? { additionalPolicies: [{ policy: metricsPolicy(settings.metrics), position: "perRetry" as const }] }
      : {}),
  });
}

function vmSizeInfo(sku: ResourceSku, location: string): VmSizeInfo {
  const vCpus = Number(sku.capabilities?.find((c) => c.name === "vCPUs")?.value ?? "0");
  const restrictions: SizeRestriction[] = (sku.restrictions ?? [])
    .filter((r) =>
      (r.restrictionInfo?.locations ?? r.values ?? []).some(
        (l) => l.toLowerCase() === location.toLowerCase(),
      ),
    )
    .map((r) => ({
      type: r.type ?? "Location",
      reasonCode: r.reasonCode ?? "NotAvailableForSubscription",
      zones: r.restrictionInfo?.zones ?? [],
    }));
  return {
    name: sku.name ?? "",
    family: sku.family ?? "",
    vCpus: Number.isFinite(vCpus) ? vCpus : 0,
    restrictions,
  };
}

/** The resource group in a resource id (`/subscriptions/…/resourceGroups/{rg}/…`). */
function resourceGroupOf(id: string | undefined): string {
  return /\/resourcegroups\/([^/]+)/i.exec(id ?? "")?.[1] ?? "";
}

export class ArmCapacity implements CapacityPort {
  readonly #compute: ComputeManagementClient;
  readonly #containers: ContainerServiceClient;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #backoff: BackoffPolicy;
  readonly #random: () => number;

  constructor(
    compute: ComputeManagementClient,
    containers: ContainerServiceClient,
    clock: Clock,
    options: CapacityReadOptions = {},
  ) {
    this.#compute = compute;
    this.#containers = containers;
    this.#clock = clock;
    this.#timeoutMs = options.timeoutMs ?? 3_000;
    this.#attempts = options.attempts ?? 3;
    this.#backoff = options.backoff ?? { initialMs: 200, maxMs: 1_000 };
    this.#random = options.random ?? Math.random;
  }

  /** Runs `read` under the timeout, retrying what is worth it while the budget lasts. */
  async #bounded<T>(
    what: string,
    signal: AbortSignal,
    read: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const started = this.#clock.now();
    const deadline = new AbortController();
    const cancel = this.#clock.timeout(() => deadline.abort(), this.#timeoutMs);
    const both = AbortSignal.any([signal, deadline.signal]);
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await read(both);
        } catch (error) {
          if (signal.aborted) throw new CancelledError();
          if (deadline.signal.aborted) {
            throw new ExternalError("azure", "Timeout", `${what}: no answer within ${this.#timeoutMs} ms`, {
              retryable: true,
            });
          }
          const mapped = toAzureError(error, what, this.#clock.now(), both);
          const wait = backoff(
            attempt,
            this.#backoff,
            this.#random,
            mapped instanceof ExternalError ? (mapped.retryAfterMs ?? 0) : 0,
          );
          const retryable = mapped instanceof ExternalError && mapped.retryable;
          const left = this.#timeoutMs - (this.#clock.now() - started);
          if (!retryable || attempt >= this.#attempts || wait >= left) throw mapped;
          await this.#clock.sleep(wait, both).catch(() => undefined);
          if (signal.aborted) throw new CancelledError();
        }
      }
    } finally {
      cancel();
    }
  }

  usages(location: string, signal: AbortSignal): Promise<ComputeUsage[]> {
    return this.#bounded(`read compute usages in ${location}`, signal, async (abortSignal) => {
      const out: ComputeUsage[] = [];
      for await (const u of this.#compute.usage.list(location, { abortSignal })) {
        out.push({
          name: u.name.value ?? "",
          localizedName: u.name.localizedValue ?? u.name.value ?? "",
          current: u.currentValue,
          limit: u.limit,
        });
      }
      return out;
    });
  }

  vmSizes(location: string, signal: AbortSignal): Promise<VmSizeInfo[]> {
    return this.#bounded(`read VM sizes in ${location}`, signal, async (abortSignal) => {
      const out: VmSizeInfo[] = [];
      for await (const sku of this.#compute.resourceSkus.list({
        filter: `location eq '${location}'`,
        abortSignal,
      })) {
        if (sku.resourceType !== "virtualMachines") continue;
        if (!(sku.locations ?? []).some((l) => l.toLowerCase() === location.toLowerCase())) continue;
        out.push(vmSizeInfo(sku, location));
      }
      return out;
    });
  }

  clusters(signal: AbortSignal): Promise<ExistingCluster[]> {
    return this.#bounded("list managed clusters", signal, async (abortSignal) => {
      const out: ExistingCluster[] = [];
      for await (const mc of this.#containers.managedClusters.list({ abortSignal })) {
        out.push({ name: mc.name ?? "", resourceGroup: resourceGroupOf(mc.id), location: mc.location });
      }
      return out;
    });
  }
}
