import { roleAssignmentName } from "../../src/labs/naming.ts";
import type { AzureLabPort, ResourceRef, RoleAssignmentSpec } from "../../src/ports/azure.ts";

/**
 * Azure role assignments in memory, behind the port's two calls: an
 * assignment is kept under the deterministic name the adapter gives it
 * (roleAssignmentName), so ensuring twice keeps one and deleting twice
 * deletes once, as ARM's PUT and DELETE do.
 */
export class MemoryRoleAssignments
  implements Pick<AzureLabPort, "ensureRoleAssignment" | "deleteRoleAssignment">
{
  readonly assignments = new Map<string, RoleAssignmentSpec>();
  readonly calls: string[] = [];

  #id(spec: RoleAssignmentSpec): string {
    const name = roleAssignmentName(spec.scope, spec.roleDefinitionId, spec.principalId);
    return `${spec.scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
  }

  async ensureRoleAssignment(spec: RoleAssignmentSpec): Promise<ResourceRef> {
    const id = this.#id(spec);
    this.calls.push(`ensure ${spec.roleDefinitionId} ${spec.principalId} ${spec.scope}`);
    this.assignments.set(id, { ...spec });
    return { id, name: id.split("/").at(-1) ?? "" };
  }

  async deleteRoleAssignment(spec: RoleAssignmentSpec): Promise<boolean> {
    this.calls.push(`delete ${spec.roleDefinitionId} ${spec.principalId} ${spec.scope}`);
    return this.assignments.delete(this.#id(spec));
  }

  /** `role principal scope` of every assignment, sorted. */
  list(): string[] {
    return [...this.assignments.values()]
      .map((a) => `${a.roleDefinitionId} ${a.principalId} ${a.scope}`)
      .sort();
  }
}
