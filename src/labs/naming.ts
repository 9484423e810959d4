import { createHash } from "node:crypto";

/**
 * Every name a lab owns, derived from the lab name alone (plus the
 * subscription for the vault's global name), so a resumed or repeated job
 * finds what an earlier one created instead of making another.
 */
export interface LabNames {
  lab: string;
  /** The team's own resource group (vault, identity; on a dedicated lab, the cluster too). */
  resourceGroup: string;
  cluster: string;
  /** Where the cluster is: the lab's own group, or its host's. */
  clusterResourceGroup: string;
  /** The host cluster the lab lives on; undefined for a dedicated lab. */
  host: string | undefined;
  identity: string;
  federatedCredential: string;
  namespace: string;
  serviceAccount: string;
  secretProviderClass: string;
  deployment: string;
  syncedSecret: string;
}

export const LAB_NAMESPACE = "secret-lab";
export const LAB_SERVICE_ACCOUNT = "secret-lab-sa";
export const LAB_DEPLOYMENT = "podinfo-csi";
export const LAB_SECRET_PROVIDER_CLASS = "azure-keyvault-secrets";
export const LAB_SYNCED_SECRET = "keyvault-secrets";
export const LAB_SECRETS = ["db-connection-string", "color"] as const;

/** The secrets a lab's vault has, as labops knows them: the seeded ones and those added with `--new`. */
export function labSecrets(record: { secrets?: readonly string[] }): string[] {
  const names = new Map<string, string>();
  // Key Vault's names are case-insensitive: `Color` is `color`.
  for (const name of [...LAB_SECRETS, ...(record.secrets ?? [])]) names.set(name.toLowerCase(), name);
  return [...names.values()];
}
export const LAB_POD_SELECTOR = "app=podinfo";
/** Where infra/lab/reloader.yaml runs Reloader (its Helm chart's names). */
export const RELOADER_NAMESPACE = "reloader";
export const RELOADER_DEPLOYMENT = "reloader-reloader";
export const FEDERATED_AUDIENCE = "api://AzureADTokenExchange";

/**
 * A dedicated lab owns its cluster and runs in `secret-lab`; a lab on a host
 * (`host` given) has the same resource group, vault and identity of its own,
 * and runs in its own namespace `lab-NAME` of the host's cluster.
 */
export function labNames(lab: string, host?: string): LabNames {
  const hosted = host === undefined ? undefined : hostNames(host);
  return {
    lab,
    resourceGroup: `lab-${lab}-rg`,
    cluster: hosted?.cluster ?? `lab-${lab}-aks`,
    clusterResourceGroup: hosted?.resourceGroup ?? `lab-${lab}-rg`,
    host,
    identity: `lab-${lab}-mi`,
    federatedCredential: "secret-lab-federated-id",
    namespace: hosted ? hostedLabNamespace(lab) : LAB_NAMESPACE,
    serviceAccount: LAB_SERVICE_ACCOUNT,
    secretProviderClass: LAB_SECRET_PROVIDER_CLASS,
    deployment: LAB_DEPLOYMENT,
    syncedSecret: LAB_SYNCED_SECRET,
  };
}

/** The names of a lab as its record knows it (on a host or not). */
export function labNamesOf(record: { name: string; host?: string | undefined }): LabNames {
  return labNames(record.name, record.host);
}

/** A lab's namespace on a host: `lab-NAME` (at most 24 characters, a valid DNS label). */
export function hostedLabNamespace(lab: string): string {
  return `lab-${lab}`;
}

/** The teams of workshop PREFIX: labs `PREFIX-1` … `PREFIX-N`. */
export function teamLabs(prefix: string, teams: number): string[] {
  return Array.from({ length: teams }, (_, i) => `${prefix}-${i + 1}`);
}

/** What a host cluster owns: a resource group and the cluster in it. */
export interface HostNames {
  host: string;
  resourceGroup: string;
  cluster: string;
}

export function hostNames(host: string): HostNames {
  return { host, resourceGroup: `host-${host}-rg`, cluster: `host-${host}-aks` };
}

export function workloadSubject(names: LabNames): string {
  return `system:serviceaccount:${names.namespace}:${names.serviceAccount}`;
}

const VAULT_MAX = 24;
const SUFFIX = 5;

/**
 * `kv-<lab>-<5 chars>`, at most 24 characters. The suffix is a hash of the
 * subscription, the lab and the attempt, so the same lab gets the same vault
 * name every time, and a global-name conflict moves to the next attempt.
 */
export function vaultName(subscriptionId: string, lab: string, attempt = 0): string {
  const room = VAULT_MAX - "kv-".length - 1 - SUFFIX;
  // Key Vault names may not hold "--" or end in "-": trim the cut.
  const stem = lab.slice(0, room).replace(/-+$/, "");
  const digest = createHash("sha256").update(`${subscriptionId}/${lab}/${attempt}`).digest();
  let suffix = "";
  for (let i = 0; suffix.length < SUFFIX; i++) {
    suffix += "abcdefghijklmnopqrstuvwxyz0123456789"[(digest[i] ?? 0) % 36];
  }
  return `kv-${stem}-${suffix}`;
}

/**
 * A role assignment's name must be a GUID; deriving it from scope, role and
 * principal makes the PUT idempotent (a name-based UUID, RFC 4122 version 5 layout).
 */
export function roleAssignmentName(scope: string, roleDefinitionId: string, principalId: string): string {
  const hash = createHash("sha1")
    .update(`${scope.toLowerCase()}|${roleDefinitionId.toLowerCase()}|${principalId.toLowerCase()}`)
    .digest();
  const b = Buffer.from(hash.subarray(0, 16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = b.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Built-in role definition ids (the same in every Azure cloud). */
export const ROLE = {
  keyVaultSecretsUser: "4633458b-17de-408a-b874-0445c86b69e6",
  keyVaultSecretsOfficer: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
  /** Lets its holder list the cluster's user credential (fetch a kubeconfig); grants nothing inside the cluster. */
  aksClusterUser: "4abbcc35-e782-43d8-92c5-2d3f1bd2253f",
  /** Azure RBAC for Kubernetes: read and write most objects at its scope (a cluster, or one of its namespaces). */
  aksRbacWriter: "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb",
} as const;
