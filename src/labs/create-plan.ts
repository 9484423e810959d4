import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.ts";
import { CancelledError, ExternalError } from "../errors.ts";
import type { AzureLabPort, KeyVaultPort, Tags } from "../ports/azure.ts";
import type { ClusterPort, ClusterSession, MountState, PodState } from "../ports/cluster.ts";
import { SecretValue } from "../secret-value.ts";
import { clusterSteps } from "./cluster-steps.ts";
import { renderLabManifests } from "./manifests.ts";
import { grantNamespaceAccess, userFromTag } from "./namespace-access.ts";
import {
  FEDERATED_AUDIENCE,
  LAB_SECRETS,
  type LabNames,
  labNames,
  ROLE,
  vaultName,
  workloadSubject,
} from "./naming.ts";
import type { RetryPolicy, Step, StepContext } from "./steps.ts";
import { scaledDeadline, scaledPoll, scaledRetry } from "./timing.ts";

/**
 * The lab blueprint (docs/ARCHITECTURE.md) as a plan of steps. The cluster is
 * created with the Key Vault CSI addon and rotation in the same request,
 * saving the reference's second cluster update (about 3 minutes).
 */

export interface LabPlanInput {
  lab: string;
  location: string;
  subscriptionId: string;
  tenantId: string;
  tags: Tags;
  replicas: number;
  nodeCount: number;
  vmSize: string;
  rotationPollInterval: string;
  /**
   * The host cluster the lab goes on (`lab create NAME --on HOST`): no cluster
   * is created, the federated credential trusts the host's OIDC issuer, and
   * the workload runs in the lab's own namespace there.
   */
  host?: { name: string; oidcIssuerUrl: string } | undefined;
}

export interface LabPlanPorts {
  azure: AzureLabPort;
  keyVault: KeyVaultPort;
  cluster: ClusterPort;
  /** The verify step's polling and deadline; its time scale divides the plan's own waits. */
  clock: Clock;
}

export const DEFAULT_LAB_SHAPE = {
  replicas: 2,
  nodeCount: 2,
  vmSize: "Standard_B2s",
  rotationPollInterval: "1m",
} as const;

/** The steps, in the order the blueprint lists them. */
export const CREATE_STEPS: ReadonlyArray<{ name: string; label: string; dependsOn: readonly string[] }> = [
  { name: "rg", label: "Resource group", dependsOn: [] },
  { name: "aks", label: "AKS cluster with workload identity and the Key Vault CSI addon", dependsOn: ["rg"] },
  { name: "kv", label: "Key Vault (RBAC)", dependsOn: ["rg"] },
  { name: "mi", label: "Managed identity", dependsOn: ["rg"] },
  { name: "role-mi", label: "Key Vault Secrets User for the identity", dependsOn: ["kv", "mi"] },
  { name: "role-bot", label: "Key Vault Secrets Officer for labops", dependsOn: ["kv"] },
  { name: "fic", label: "Federated credential for the service account", dependsOn: ["aks", "mi"] },
  { name: "secrets", label: "Seed secrets", dependsOn: ["role-bot"] },
  { name: "creds", label: "Cluster credentials", dependsOn: ["aks"] },
  { name: "reloader", label: "Reloader", dependsOn: ["creds"] },
  {
    name: "workload",
    label: "Namespace, service account, SecretProviderClass, podinfo",
    dependsOn: ["creds", "fic", "secrets"],
  },
  {
    name: "verify",
    label: "Pods ready on the vault's current versions",
    dependsOn: ["workload", "reloader"],
  },
];

/** The steps of a lab on a host: no cluster and no Reloader (the host has them), the rest as a dedicated lab's. */
export const HOSTED_CREATE_STEPS: ReadonlyArray<{
  name: string;
  label: string;
  dependsOn: readonly string[];
}> = [
  { name: "rg", label: "Resource group", dependsOn: [] },
  { name: "kv", label: "Key Vault (RBAC)", dependsOn: ["rg"] },
  { name: "mi", label: "Managed identity", dependsOn: ["rg"] },
  { name: "role-mi", label: "Key Vault Secrets User for the identity", dependsOn: ["kv", "mi"] },
  { name: "role-bot", label: "Key Vault Secrets Officer for labops", dependsOn: ["kv"] },
  { name: "fic", label: "Federated credential for the namespace's service account", dependsOn: ["mi"] },
  { name: "secrets", label: "Seed secrets", dependsOn: ["role-bot"] },
  { name: "creds", label: "Host cluster credentials", dependsOn: [] },
  {
    name: "workload",
    label: "Namespace, service account, SecretProviderClass, podinfo",
    dependsOn: ["creds", "fic", "secrets"],
  },
  { name: "verify", label: "Pods ready on the vault's current versions", dependsOn: ["workload"] },
  { name: "access", label: "The owner's kubectl access to the namespace (Teams)", dependsOn: ["workload"] },
];

/** The steps of a lab's create plan: a dedicated lab's, or a lab's on a host. */
export function createSteps(hosted: boolean): typeof CREATE_STEPS {
  return hosted ? HOSTED_CREATE_STEPS : CREATE_STEPS;
}

/** Step outputs worth keeping on the lab record itself, under flat names. */
const RECORD_OUTPUTS: Record<string, Record<string, string>> = {
  rg: { id: "resourceGroupId" },
  aks: { id: "clusterId", oidcIssuerUrl: "oidcIssuerUrl", nodeResourceGroup: "nodeResourceGroup" },
  kv: { id: "vaultId", name: "vaultName", vaultUri: "vaultUri" },
  mi: { id: "identityId", clientId: "identityClientId", principalId: "identityPrincipalId" },
  "role-bot": { principalId: "botPrincipalId" },
};

/** What of a finished step's outputs the lab record keeps (`LabRecord.outputs`). */
export function recordOutputs(step: string, outputs: Record<string, string>): Record<string, string> {
  const map = RECORD_OUTPUTS[step] ?? {};
  const flat: Record<string, string> = {};
  for (const [from, to] of Object.entries(map)) {
    const v = outputs[from];
    if (v !== undefined) flat[to] = v;
  }
  return flat;
}

/** RBAC assignments take one to two minutes to reach Key Vault's data plane. */
const RBAC_PROPAGATION: RetryPolicy = {
  attempts: 40,
  initialDelayMs: 2_000,
  maxDelayMs: 15_000,
  retryOn: (e) =>
    e instanceof ExternalError && (e.retryable || e.code === "ForbiddenByRbac" || e.status === 403),
};

/** How many vault names a lab may try (they are global); the destroy plan purges as many. */
export const VAULT_NAME_ATTEMPTS = 5;

/** A connection string with a fresh password: the lab's example of a secret nobody should see. */
function seedConnectionString(names: LabNames): SecretValue {
  const password = randomBytes(18).toString("base64url");
  return new SecretValue(
    `Server=tcp:${names.lab}-sql.database.windows.net,1433;Database=labdb;User ID=labadmin;Password=${password};Encrypt=True;`,
  );
}

export interface VerifyReport {
  ready: boolean;
  summary: string;
}

/** Is every pod of the deployment ready and on the vault's current versions? */
export function compareMounts(
  pods: PodState[],
  mounts: MountState[],
  current: Record<string, string>,
  expectedReplicas: number,
): VerifyReport {
  const live = pods.filter((p) => p.deletionTimestamp === undefined);
  const ready = live.filter((p) => p.ready);
  // Exactly the desired pods, all ready: during a rollout's surge there are more, and some are old.
  if (ready.length !== expectedReplicas || live.length !== ready.length) {
    const waiting = live.filter((p) => !p.ready).map((p) => `${p.name} (${p.reason ?? p.phase})`);
    return {
      ready: false,
      summary: `${ready.length}/${expectedReplicas} pods ready${waiting.length ? `; waiting: ${waiting.join(", ")}` : ""}`,
    };
  }
  for (const pod of ready) {
    const mount = mounts.find((m) => m.podName === pod.name);
    if (!mount?.mounted) return { ready: false, summary: `${pod.name} has not mounted the vault yet` };
    for (const [object, version] of Object.entries(current)) {
      if (mount.versions[object] !== version) {
        return {
          ready: false,
          summary: `${pod.name} runs ${object} ${mount.versions[object] ?? "(none)"}, the vault has ${version}`,
        };
      }
    }
  }
  return {
    ready: true,
    summary: `${ready.length}/${expectedReplicas} pods ready on the vault's current versions`,
  };
}

export interface LabPlan {
  steps: Step[];
  /** Closes the cluster session the steps opened, if any. */
  dispose(): void;
}

export function createLabPlan(input: LabPlanInput, ports: LabPlanPorts): LabPlan {
  const names = labNames(input.lab, input.host?.name);
  const { azure, keyVault, cluster, clock } = ports;
  const scale = clock.timeScale;

  // The kubeconfig holds a credential, so it is never checkpointed: each run asks ARM for it again.
  let session: ClusterSession | undefined;
  const clusterSession = async (signal: AbortSignal) => {
    if (!session) {
      session = cluster.connect(
        await azure.clusterUserKubeconfig(names.clusterResourceGroup, names.cluster, signal),
      );
    }
    return session;
  };

  const run: Record<string, (ctx: StepContext) => Promise<Record<string, string> | undefined>> = {
    ...clusterSteps(
      azure,
      {
        ...input,
        resourceGroup: names.resourceGroup,
        cluster: names.cluster,
        recreateHint:
          "The cluster must be created with the OIDC issuer enabled; delete the lab and create it again.",
      },
      clusterSession,
    ),
    async kv({ signal, logger }) {
      for (let attempt = 0; attempt < VAULT_NAME_ATTEMPTS; attempt++) {
        const name = vaultName(input.subscriptionId, input.lab, attempt);
        try {
          const vault = await azure.ensureVault(
            { resourceGroup: names.resourceGroup, name, location: input.location, tags: input.tags },
            signal,
          );
          return { id: vault.id, name: vault.name, vaultUri: vault.vaultUri };
        } catch (error) {
          if (error instanceof ExternalError && error.code === "VaultAlreadyExists") {
            logger.info({ name }, "vault name taken elsewhere; trying the next one");
            continue;
          }
          throw error;
        }
      }
      throw new ExternalError(
        "azure",
        "VaultAlreadyExists",
        `No free Key Vault name for lab ${input.lab} after ${VAULT_NAME_ATTEMPTS} tries.`,
        {
          hint: "Key Vault names are global and stay taken while soft-deleted; purge old vaults or pick another lab name.",
        },
      );
    },
    async mi({ signal }) {
      const mi = await azure.ensureIdentity(
        {
          resourceGroup: names.resourceGroup,
          name: names.identity,
          location: input.location,
          tags: input.tags,
        },
        signal,
      );
      return { id: mi.id, name: mi.name, clientId: mi.clientId, principalId: mi.principalId };
    },
    async "role-mi"({ signal, output }) {
      const ra = await azure.ensureRoleAssignment(
        {
          scope: output("kv", "id"),
          roleDefinitionId: ROLE.keyVaultSecretsUser,
          principalId: output("mi", "principalId"),
          principalType: "ServicePrincipal",
        },
        signal,
      );
      return { id: ra.id };
    },
    async "role-bot"({ signal, output }) {
      const principalId = await azure.callerPrincipalId(signal);
      const ra = await azure.ensureRoleAssignment(
        {
          scope: output("kv", "id"),
          roleDefinitionId: ROLE.keyVaultSecretsOfficer,
          principalId,
          principalType: "ServicePrincipal",
        },
        signal,
      );
      return { id: ra.id, principalId };
    },
    async fic({ signal, output }) {
      const fic = await azure.ensureFederatedCredential(
        {
          resourceGroup: names.resourceGroup,
          identityName: names.identity,
          name: names.federatedCredential,
          issuer: input.host?.oidcIssuerUrl ?? output("aks", "oidcIssuerUrl"),
          subject: workloadSubject(names),
          audiences: [FEDERATED_AUDIENCE],
        },
        signal,
      );
      return { id: fic.id };
    },
    async secrets({ signal, output }) {
      const vaultUri = output("kv", "vaultUri");
      const versions: Record<string, string> = {};
      for (const name of LAB_SECRETS) {
        // Look before writing: a resumed job must not add a second version.
        const existing = await keyVault.currentVersion(vaultUri, name, signal);
        if (existing) {
          versions[name] = existing.version;
          continue;
        }
        const value = name === "color" ? new SecretValue("blue") : seedConnectionString(names);
        const written = await keyVault.setSecret(
          vaultUri,
          name,
          value,
          { "labops-by": "labops", "labops-reason": "seed" },
          signal,
        );
        versions[name] = written.version;
      }
      return versions;
    },
    async workload({ signal, output }) {
      const s = await clusterSession(signal);
      await s.apply(
        renderLabManifests("workload", {
          NAMESPACE: names.namespace,
          MI_CLIENT_ID: output("mi", "clientId"),
          KEYVAULT_NAME: output("kv", "name"),
          TENANT_ID: input.tenantId,
          REPLICAS: String(input.replicas),
        }),
        signal,
      );
      return {};
    },
    async access({ signal }) {
      // The owner as both callers tag the lab's resources (`labops-owner`: platform:id).
      const owner = userFromTag(input.tags["labops-owner"]);
      const where = { subscriptionId: input.subscriptionId, host: input.host?.name ?? "", lab: input.lab };
      if (!owner || !input.host || !(await grantNamespaceAccess(azure, where, owner, signal)))
        return { skipped: "no_entra_id" };
      return { principalId: owner.id.toLowerCase() };
    },
    async verify({ signal, output }) {
      const s = await clusterSession(signal);
      const vaultUri = output("kv", "vaultUri");
      // Deadline: an image pull, a CSI mount with token exchange, and RBAC propagation to the data plane.
      const deadline = clock.now() + scaledDeadline(10 * 60_000, scale);
      let last = "";
      for (;;) {
        if (signal.aborted) throw new CancelledError();
        const current: Record<string, string> = {};
        for (const name of LAB_SECRETS) {
          const v = await keyVault.currentVersion(vaultUri, name, signal);
          if (v) current[name] = v.version;
        }
        const [pods, mounts] = await Promise.all([
          s.listPods(names.namespace, "app=podinfo", signal),
          s.listMounts(names.namespace, signal),
        ]);
        const report = compareMounts(pods, mounts, current, input.replicas);
        if (report.ready) return { pods: String(input.replicas), summary: report.summary };
        last = report.summary;
        if (clock.now() > deadline) {
          const events = await s.listEvents(names.namespace, signal).catch(() => []);
          const mountFailure = events.find((e) => e.reason === "FailedMount");
          throw new ExternalError(
            "kubernetes",
            "VerifyTimeout",
            `The lab's pods did not become ready: ${last}.`,
            {
              hint: mountFailure
                ? `The CSI driver cannot mount the vault: ${mountFailure.message.slice(0, 300)}`
                : "Check the pods with `lab status`; the vault, identity and federated credential must line up.",
            },
          );
        }
        await clock.sleep(scaledPoll(5_000, scale), signal);
      }
    },
  };

  const steps = createSteps(input.host !== undefined).map((s) => {
    const fn = run[s.name];
    if (!fn) throw new Error(`no implementation for step ${s.name}`);
    const step: Step = { name: s.name, label: s.label, dependsOn: s.dependsOn, run: fn };
    if (s.name === "secrets") step.retry = scaledRetry(RBAC_PROPAGATION, scale);
    else step.retry = scaledRetry({ attempts: 6, initialDelayMs: 2_000, maxDelayMs: 30_000 }, scale);
    return step;
  });
  return {
    steps,
    dispose() {
      session?.close();
      session = undefined;
    },
  };
}
