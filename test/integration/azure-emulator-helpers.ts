import { request } from "node:https";
import type { AzureRetrySettings } from "../../adapters/azure/clients.ts";
import { type AzureClients, createAzureClients } from "../../adapters/azure/clients.ts";
import { createAzureCredential } from "../../adapters/azure/credential.ts";
import type { AzureEmulator, PrincipalCredentials } from "../../emulators/azure/index.ts";

/**
 * The bot's way into Azure, built with the product's own credential and
 * client factories: tests exercise the same path as production.
 */
export function clientsFor(
  emu: AzureEmulator,
  who: PrincipalCredentials = emu.bot,
  retry?: AzureRetrySettings,
): AzureClients {
  const credential = createAzureCredential({
    tenantId: emu.tenantId,
    clientId: who.clientId,
    clientSecret: who.clientSecret,
    authorityHost: emu.authorityHost,
    caPem: emu.caPem,
  });
  return createAzureClients({
    endpoint: emu.armEndpoint,
    credential,
    subscriptionId: emu.subscriptionId,
    caPem: emu.caPem,
    ...(retry ? { retry } : {}),
  });
}

/** What the lab asks of AKS (docs/ARCHITECTURE.md, The lab blueprint), in the SDK's flattened model. */
export function labCluster(location: string) {
  return {
    location,
    sku: { name: "Base", tier: "Free" },
    identity: { type: "SystemAssigned" as const },
    dnsPrefix: "lab",
    agentPoolProfiles: [
      { name: "system", count: 2, vmSize: "Standard_B2s", mode: "System", osType: "Linux" },
    ],
    oidcIssuerProfile: { enabled: true },
    securityProfile: { workloadIdentity: { enabled: true } },
    addonProfiles: {
      azureKeyvaultSecretsProvider: {
        enabled: true,
        config: { enableSecretRotation: "true", rotationPollInterval: "1m" },
      },
    },
  };
}

export function vaultParams(emu: AzureEmulator, extra: Record<string, unknown> = {}) {
  return {
    location: emu.location,
    properties: {
      tenantId: emu.tenantId,
      sku: { family: "A" as const, name: "standard" as const },
      enableRbacAuthorization: true,
      ...extra,
    },
  };
}

export function roleId(emu: AzureEmulator, guid: string): string {
  return `/subscriptions/${emu.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
}

/** Raw HTTPS for what no SDK covers: the emulator's own control endpoints and unauthenticated probes. */
export function rawRequest(
  emu: AzureEmulator,
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
    const req = request(
      url,
      {
        method: init.method ?? "GET",
        ca: emu.caPem,
        headers: {
          ...(payload
            ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) }
            : {}),
          ...init.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** The error an SDK call rejects with (fails the test when it resolves). */
export interface CaughtError {
  statusCode?: number;
  code?: string;
  message: string;
  details?: unknown;
  response?: { headers: { get(name: string): string | undefined } };
}

export async function rejection(promise: Promise<unknown>): Promise<CaughtError> {
  try {
    await promise;
  } catch (error) {
    return error as CaughtError;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Waits (in real time) until `condition` holds: synchronisation with requests in flight, not a timing check. */
export async function until(condition: () => boolean, what = "condition"): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`gave up waiting for ${what}`);
}
