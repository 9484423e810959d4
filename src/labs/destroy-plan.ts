import type { Clock } from "../clock.ts";
import { CancelledError, ExternalError } from "../errors.ts";
import type { AzureLabPort } from "../ports/azure.ts";
import type { ClusterPort } from "../ports/cluster.ts";
import type { LabRegistry } from "../ports/registry.ts";
import type { LabScheduler } from "../ports/scheduler.ts";
import type { WatchStateStore } from "../ports/watcher.ts";
import { VAULT_NAME_ATTEMPTS } from "./create-plan.ts";
import { isResourceGroupName, isVaultName } from "./names.ts";
import { labPeople, revokeNamespaceAccess } from "./namespace-access.ts";
import { labNames, vaultName } from "./naming.ts";
import type { Step } from "./steps.ts";
import { scaledDeadline, scaledPoll, scaledRetry } from "./timing.ts";

/**
 * A lab's teardown as a plan of steps, run like the create plan
 * (create-plan.ts) by the runner: delete the resource group, purge the
 * soft-deleted vault so its global name is free again, then forget the lab.
 * A lab on a host first deletes its namespace there (its pods, service
 * account, SecretProviderClass) and waits until the namespace is gone; the
 * host and the other teams' namespaces are not touched.
 */

export const HOSTED_DESTROY_STEPS = [
  { name: "ns-delete", label: "Delete the lab's namespace on the host", dependsOn: [] },
  {
    name: "access-delete",
    label: "Remove the team's kubectl access to the namespace (Teams)",
    dependsOn: [],
  },
  {
    name: "rg-delete",
    label: "Delete the resource group (vault, identity, roles)",
    dependsOn: ["ns-delete"],
  },
  { name: "kv-purge", label: "Purge the soft-deleted Key Vault", dependsOn: ["rg-delete"] },
  {
    name: "forget",
    label: "Forget the lab: record, schedules, watch",
    dependsOn: ["kv-purge", "access-delete"],
  },
] as const;

export function destroySteps(hosted: boolean): ReadonlyArray<{ name: string; label: string }> {
  return hosted ? HOSTED_DESTROY_STEPS : DESTROY_STEPS;
}

export const DESTROY_STEPS = [
  { name: "rg-delete", label: "Delete the resource group (cluster, vault, identity, roles)", dependsOn: [] },
  { name: "kv-purge", label: "Purge the soft-deleted Key Vault", dependsOn: ["rg-delete"] },
  { name: "forget", label: "Forget the lab: record, schedules, watch", dependsOn: ["kv-purge"] },
] as const;

export interface DestroyPlanInput {
  lab: string;
  /** Where the lab's vault was (the vault purge is per location). */
  location: string;
  subscriptionId: string;
  /** The vault's name when the lab record knows it; else every name the create plan could have chosen is tried. */
  vaultName?: string | undefined;
  /** The host the lab lives on, when it is not a dedicated lab. */
  host?: string | undefined;
}

export interface DestroyPlanPorts {
  azure: Pick<
    AzureLabPort,
    | "deleteResourceGroup"
    | "purgeDeletedVault"
    | "getCluster"
    | "clusterUserKubeconfig"
    | "deleteRoleAssignment"
  >;
  /** Reaches the host's cluster (labs on a host only). */
  cluster: ClusterPort;
  scheduler: Pick<LabScheduler, "cancel">;
  /** The rotation watcher's state per lab. */
  watchState: Pick<WatchStateStore, "delete">;
  /** `get`: whose namespace access a lab on a host removes (its owner and members); without it, nobody's. */
  registry: Pick<LabRegistry, "delete"> & Partial<Pick<LabRegistry, "get">>;
  /** Its time scale divides the retry waits. */
  clock: Clock;
}

export function createDestroyPlan(input: DestroyPlanInput, ports: DestroyPlanPorts): Step[] {
  const { lab } = input;
  const names = labNames(lab, input.host);
  const retry = scaledRetry(
    { attempts: 6, initialDelayMs: 2_000, maxDelayMs: 30_000 },
    ports.clock.timeScale,
  );
  const own: Step[] = [
    {
      ...DESTROY_STEPS[0],
      retry,
      async run({ signal }) {
        // A lab kept under a name Azure refuses (from before names were checked) has nothing there to delete.
        if (!isResourceGroupName(names.resourceGroup)) return { skipped: "name_not_in_azure" };
        await ports.azure.deleteResourceGroup(names.resourceGroup, signal);
        return {};
      },
    },
    {
      ...DESTROY_STEPS[1],
      retry,
      async run({ signal }) {
        // Without a purge the global name stays taken for 90 days.
        const candidates = (
          input.vaultName
            ? [input.vaultName]
            : Array.from({ length: VAULT_NAME_ATTEMPTS }, (_, i) => vaultName(input.subscriptionId, lab, i))
        ).filter(isVaultName);
        const purged: string[] = [];
        for (const name of candidates) {
          if (await ports.azure.purgeDeletedVault(name, input.location, signal)) purged.push(name);
        }
        return { purged: purged.join(",") };
      },
    },
    {
      ...DESTROY_STEPS[2],
      async run() {
        await ports.scheduler.cancel(lab);
        // The watcher let the lab go when it turned "destroying"; what it kept of it goes too.
        await ports.watchState.delete(lab);
        await ports.registry.delete(lab);
        return {};
      },
    },
  ];
  if (input.host === undefined) return own;
  const nsDelete: Step = {
    ...HOSTED_DESTROY_STEPS[0],
    retry,
    async run({ signal }) {
      const { clock } = ports;
      const { azure } = ports;
      // A host already gone took the namespace with it.
      if (!(await azure.getCluster(names.clusterResourceGroup, names.cluster, signal)))
        return { namespace: "none" };
      const session = ports.cluster.connect(
        await azure.clusterUserKubeconfig(names.clusterResourceGroup, names.cluster, signal),
      );
      try {
        // Terminating pods get their grace period; the namespace controller then removes the namespace.
        const deadline = clock.now() + scaledDeadline(5 * 60_000, clock.timeScale);
        for (;;) {
          if (signal.aborted) throw new CancelledError();
          if ((await session.deleteNamespace(names.namespace, signal)) === "gone")
            return { namespace: "deleted" };
          if (clock.now() > deadline) {
            throw new ExternalError(
              "kubernetes",
              "NamespaceStuck",
              `Namespace ${names.namespace} is still terminating on host ${input.host}.`,
              {
                hint: "Something in it holds a finalizer; say `lab destroy` again to resume once it is gone.",
              },
            );
          }
          await clock.sleep(scaledPoll(2_000, clock.timeScale), signal);
        }
      } finally {
        session.close();
      }
    },
  };
  const host = input.host;
  const accessDelete: Step = {
    ...HOSTED_DESTROY_STEPS[1],
    retry,
    async run({ signal }) {
      // Deleting the namespace leaves Azure role assignments at its scope: they go here, while the
      // record still names who had them (the forget step waits for this one).
      const record = await ports.registry.get?.(lab);
      const removed: string[] = [];
      for (const user of record ? labPeople(record) : []) {
        const where = { subscriptionId: input.subscriptionId, host, lab };
        if (await revokeNamespaceAccess(ports.azure, where, user, signal)) removed.push(user.id);
      }
      return { removed: String(removed.length) };
    },
  };
  const [rgDelete, kvPurge, forget] = own;
  if (!rgDelete || !kvPurge || !forget) return own;
  return [
    nsDelete,
    accessDelete,
    { ...rgDelete, ...HOSTED_DESTROY_STEPS[2] },
    kvPurge,
    { ...forget, ...HOSTED_DESTROY_STEPS[4] },
  ];
}
