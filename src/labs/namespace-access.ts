import type { AzureLabPort, RoleAssignmentSpec } from "../ports/azure.ts";
import type { ChatUser } from "../ports/chat.ts";
import { hostedLabNamespace, hostNames, ROLE } from "./naming.ts";

/**
 * A team's kubectl access to its own namespace on a host (issue 16), given
 * by labops where it knows the person's Entra object id: on Teams, a user's
 * id in labops is their AAD object id. Two Azure role assignments per person
 * (the host is created with Entra integration and Azure RBAC for Kubernetes,
 * host-plan.ts):
 *
 * - "Azure Kubernetes Service Cluster User Role" at the cluster's scope: lets
 *   them fetch the cluster's (non-admin) kubeconfig, and grants nothing inside
 *   the cluster. It is kept when a member is revoked or a lab destroyed (the
 *   person may have another lab on the host, and it opens nothing by itself);
 *   it goes with the host, whose deletion removes every assignment at its scope.
 * - "Azure Kubernetes Service RBAC Writer" at `<cluster id>/namespaces/lab-NAME`:
 *   read and write in that namespace only. Removed by `lab revoke` for that
 *   member and by `lab destroy` for the owner and every member.
 *
 * On Slack labops does not know the Entra id: nothing is assigned, and the
 * README's manual way (a service account of the team's own) stays.
 */

/** Entra object ids as Teams gives them (a GUID); anything else is not assigned a role. */
const OBJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The user's Entra object id when labops knows it (a Teams user), else undefined. */
export function entraObjectId(user: Pick<ChatUser, "platform" | "id">): string | undefined {
  if (user.platform !== "teams") return undefined;
  return OBJECT_ID.test(user.id) ? user.id.toLowerCase() : undefined;
}

/** `platform:id`, as the create plan's `labops-owner` tag writes the owner. */
export function userFromTag(tag: string | undefined): ChatUser | undefined {
  if (!tag) return undefined;
  const colon = tag.indexOf(":");
  const platform = tag.slice(0, colon);
  if (platform !== "teams" && platform !== "slack") return undefined;
  return { platform, id: tag.slice(colon + 1) };
}

/** The ARM id of host HOST's cluster. */
export function hostClusterId(subscriptionId: string, host: string): string {
  const names = hostNames(host);
  return `/subscriptions/${subscriptionId}/resourceGroups/${names.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${names.cluster}`;
}

/** The Azure RBAC scope of lab NAME's namespace on its host's cluster. */
export function namespaceScope(subscriptionId: string, host: string, lab: string): string {
  return `${hostClusterId(subscriptionId, host)}/namespaces/${hostedLabNamespace(lab)}`;
}

export interface NamespaceAccess {
  /** Cluster User Role at the cluster: fetching a kubeconfig. */
  cluster: RoleAssignmentSpec;
  /** RBAC Writer at the lab's namespace. */
  namespace: RoleAssignmentSpec;
}

/** The two assignments that give `objectId` lab NAME's namespace on HOST. */
export function namespaceAccess(
  subscriptionId: string,
  host: string,
  lab: string,
  objectId: string,
): NamespaceAccess {
  const principal = { principalId: objectId, principalType: "User" as const };
  return {
    cluster: {
      scope: hostClusterId(subscriptionId, host),
      roleDefinitionId: ROLE.aksClusterUser,
      ...principal,
    },
    namespace: {
      scope: namespaceScope(subscriptionId, host, lab),
      roleDefinitionId: ROLE.aksRbacWriter,
      ...principal,
    },
  };
}

export type AccessPort = Pick<AzureLabPort, "ensureRoleAssignment" | "deleteRoleAssignment">;

/** Gives `user` the lab's namespace (both assignments); false when labops does not know their Entra id. */
export async function grantNamespaceAccess(
  azure: AccessPort,
  where: { subscriptionId: string; host: string; lab: string },
  user: Pick<ChatUser, "platform" | "id">,
  signal: AbortSignal,
): Promise<boolean> {
  const oid = entraObjectId(user);
  if (!oid) return false;
  const access = namespaceAccess(where.subscriptionId, where.host, where.lab, oid);
  await azure.ensureRoleAssignment(access.cluster, signal);
  await azure.ensureRoleAssignment(access.namespace, signal);
  return true;
}

/**
 * Takes the lab's namespace from `user` (the namespace assignment only; the
 * cluster one opens nothing by itself and may serve another lab of theirs on
 * the host). False when labops does not know their Entra id.
 */
export async function revokeNamespaceAccess(
  azure: Pick<AzureLabPort, "deleteRoleAssignment">,
  where: { subscriptionId: string; host: string; lab: string },
  user: Pick<ChatUser, "platform" | "id">,
  signal: AbortSignal,
): Promise<boolean> {
  const oid = entraObjectId(user);
  if (!oid) return false;
  const access = namespaceAccess(where.subscriptionId, where.host, where.lab, oid);
  await azure.deleteRoleAssignment(access.namespace, signal);
  return true;
}

/** Everyone a lab gives its namespace to: its owner and its members, once each. */
export function labPeople(record: { owner: ChatUser; members?: ChatUser[] | undefined }): ChatUser[] {
  const seen = new Set<string>();
  const out: ChatUser[] = [];
  for (const u of [record.owner, ...(record.members ?? [])]) {
    const key = `${u.platform}:${u.id.toLowerCase()}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(u);
  }
  return out;
}
