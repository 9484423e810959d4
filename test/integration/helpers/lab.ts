import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { type AzureClients, callerObjectId, createAzureClients } from "../../../adapters/azure/clients.ts";
import { createAzureCredential } from "../../../adapters/azure/credential.ts";
import {
  type AzureEmulator,
  KEY_VAULT_SECRETS_OFFICER,
  KEY_VAULT_SECRETS_USER,
  startAzureEmulator,
} from "../../../emulators/azure/index.ts";
import {
  type CsiDriverRelease,
  type KubernetesEmulator,
  startKubernetesEmulator,
} from "../../../emulators/kubernetes/index.ts";
import { createCertificateAuthority } from "../../../emulators/shared/tls.ts";
import { waitFor } from "./kube.ts";

/**
 * The lab's Azure side set up through the Azure SDKs against the Azure
 * emulator (resource group, AKS with the Key Vault addon, OIDC issuer and
 * workload identity, an RBAC vault, a managed identity, its federated
 * credential and role, the seed secrets), with the AKS emulator attached,
 * and the lab manifests of infra/lab rendered and applied by server-side
 * apply through client-node.
 */

export const SUBJECT_PREFIX = "system:serviceaccount:";
export const AUDIENCE = "api://AzureADTokenExchange";

export interface LabWorld {
  azure: AzureEmulator;
  kube: KubernetesEmulator;
  clients: AzureClients;
  resourceGroup: string;
  clusterName: string;
  clusterId: string;
  issuer: string;
  vaultName: string;
  vaultUri: string;
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  objects: k8s.KubernetesObjectApi;
  stop(): Promise<void>;
}

export interface Identity {
  name: string;
  clientId: string;
  principalId: string;
}

function clientsFor(azure: AzureEmulator): AzureClients {
  const credential = createAzureCredential({
    tenantId: azure.tenantId,
    clientId: azure.bot.clientId,
    clientSecret: azure.bot.clientSecret,
    authorityHost: azure.authorityHost,
    caPem: azure.caPem,
  });
  return createAzureClients({
    endpoint: azure.armEndpoint,
    credential,
    subscriptionId: azure.subscriptionId,
    caPem: azure.caPem,
  });
}

function roleDefinition(azure: AzureEmulator, guid: string): string {
  return `/subscriptions/${azure.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
}

export interface LabWorldOptions {
  /** The CSI driver release the AKS emulator runs (its default when absent). */
  csiDriver?: CsiDriverRelease;
  /** The addon's rotationPollInterval ("1m" when absent). */
  rotationPollInterval?: string;
}

/** Resource group, AKS (addon with rotation every minute, OIDC, workload identity) and an RBAC vault with the seed secrets. */
export async function startLabWorld(
  timeScale: number,
  lab = "chain",
  options: LabWorldOptions = {},
): Promise<LabWorld> {
  const ca = await createCertificateAuthority("labops test CA");
  const azure = await startAzureEmulator({ timeScale, ca });
  const kube = await startKubernetesEmulator({
    azure: azure.world,
    ca,
    ...(options.csiDriver ? { csiDriver: options.csiDriver } : {}),
  });
  const clients = clientsFor(azure);
  const resourceGroup = `lab-${lab}-rg`;
  const clusterName = `lab-${lab}-aks`;
  const vaultName = `kv-${lab}-${randomUUID().slice(0, 5)}`;
  await clients.resources.resourceGroups.createOrUpdate(resourceGroup, { location: azure.location });
  const [cluster, vault] = await Promise.all([
    clients.containerService.managedClusters
      .createOrUpdate(resourceGroup, clusterName, {
        location: azure.location,
        sku: { name: "Base", tier: "Free" },
        identity: { type: "SystemAssigned" },
        dnsPrefix: clusterName,
        agentPoolProfiles: [
          { name: "nodepool1", count: 2, vmSize: "Standard_B2s", mode: "System", osType: "Linux" },
        ],
        oidcIssuerProfile: { enabled: true },
        securityProfile: { workloadIdentity: { enabled: true } },
        addonProfiles: {
          azureKeyvaultSecretsProvider: {
            enabled: true,
            config: {
              enableSecretRotation: "true",
              rotationPollInterval: options.rotationPollInterval ?? "1m",
            },
          },
        },
      })
      .pollUntilDone(),
    clients.keyVault.vaults
      .createOrUpdate(resourceGroup, vaultName, {
        location: azure.location,
        properties: {
          tenantId: azure.tenantId,
          sku: { family: "A", name: "standard" },
          enableRbacAuthorization: true,
        },
      })
      .pollUntilDone(),
  ]);
  const vaultId = vault.id ?? "";
  const vaultUri = vault.properties.vaultUri ?? "";
  // The bot writes the secrets itself: Key Vault Secrets Officer, then wait out the propagation.
  const botObjectId = await callerObjectId(createBotCredential(azure));
  await clients.authorization.roleAssignments.create(vaultId, randomUUID(), {
    roleDefinitionId: roleDefinition(azure, KEY_VAULT_SECRETS_OFFICER),
    principalId: botObjectId,
    principalType: "ServicePrincipal",
  });
  const secrets = clients.secrets(vaultUri);
  await waitFor(
    "the bot's vault role to propagate",
    async () => {
      await secrets.setSecret("db-connection-string", "Server=db;Database=lab;User Id=lab;Password=p1;");
      await secrets.setSecret("color", "blue");
      return true;
    },
    30_000,
  );
  const credentialKubeconfig = await clients.containerService.managedClusters.listClusterUserCredentials(
    resourceGroup,
    clusterName,
  );
  const value = credentialKubeconfig.kubeconfigs?.[0]?.value;
  if (!value) throw new Error("listClusterUserCredential returned no kubeconfig");
  const kc = new k8s.KubeConfig();
  kc.loadFromString(Buffer.from(value).toString("utf8"));
  return {
    azure,
    kube,
    clients,
    resourceGroup,
    clusterName,
    clusterId: cluster.id ?? "",
    issuer: cluster.oidcIssuerProfile?.issuerURL ?? "",
    vaultName,
    vaultUri,
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
    stop: async () => {
      await kube.stop();
      await azure.stop();
    },
  };
}

function createBotCredential(azure: AzureEmulator) {
  return createAzureCredential({
    tenantId: azure.tenantId,
    clientId: azure.bot.clientId,
    clientSecret: azure.bot.clientSecret,
    authorityHost: azure.authorityHost,
    caPem: azure.caPem,
  });
}

/** A user-assigned identity with a federated credential for `subject` and, optionally, Key Vault Secrets User on the vault. */
export async function createIdentity(
  world: LabWorld,
  name: string,
  subject: string,
  grantSecretsUser: boolean,
): Promise<Identity> {
  const { clients, azure, resourceGroup } = world;
  const mi = await clients.msi.userAssignedIdentities.createOrUpdate(resourceGroup, name, {
    location: azure.location,
  });
  await clients.msi.federatedIdentityCredentials.createOrUpdate(resourceGroup, name, `${name}-fic`, {
    issuer: world.issuer,
    subject,
    audiences: [AUDIENCE],
  });
  if (grantSecretsUser) {
    const vault = await clients.keyVault.vaults.get(resourceGroup, world.vaultName);
    await clients.authorization.roleAssignments.create(vault.id ?? "", randomUUID(), {
      roleDefinitionId: roleDefinition(azure, KEY_VAULT_SECRETS_USER),
      principalId: mi.principalId ?? "",
      principalType: "ServicePrincipal",
    });
  }
  return { name, clientId: mi.clientId ?? "", principalId: mi.principalId ?? "" };
}

/**
 * infra/lab/<file> with its ${NAME} placeholders filled, as objects. The
 * namespace is a dedicated lab's (`secret-lab`) unless `NAMESPACE` is given.
 */
export async function renderLabManifest(
  file: string,
  values: Record<string, string>,
): Promise<k8s.KubernetesObject[]> {
  const text = await readFile(join(import.meta.dirname, "../../../infra/lab", file), "utf8");
  const filled: Record<string, string> = { NAMESPACE: "secret-lab", ...values };
  const rendered = text.replace(/\$\{([A-Z_]+)\}/g, (_, key: string) => {
    const v = filled[key];
    if (v === undefined) throw new Error(`no value for \${${key}} in ${file}`);
    return v;
  });
  return parseAllDocuments(rendered)
    .map((d) => d.toJS() as k8s.KubernetesObject | null)
    .filter((o): o is k8s.KubernetesObject => o !== null);
}

/** Server-side apply, field manager "labops", in order. */
export async function applyAll(
  world: { objects: k8s.KubernetesObjectApi },
  objects: k8s.KubernetesObject[],
): Promise<void> {
  for (const o of objects) {
    await world.objects.patch(o, undefined, undefined, "labops", true, k8s.PatchStrategy.ServerSideApply);
  }
}

/** Puts every namespaced object of a rendered manifest in `namespace` (the namespace object itself renamed). */
export function inNamespace(objects: k8s.KubernetesObject[], namespace: string): k8s.KubernetesObject[] {
  return objects.map((o) => {
    const copy = structuredClone(o);
    copy.metadata = copy.metadata ?? {};
    if (copy.kind === "Namespace") copy.metadata.name = namespace;
    else copy.metadata.namespace = namespace;
    return copy;
  });
}
