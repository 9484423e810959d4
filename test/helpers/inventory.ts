import { type AzureInventory, RESOURCE_TYPES } from "../../emulators/azure/index.ts";
import { labNames } from "../../src/labs/naming.ts";

/** Role assignments each lab makes on its vault: the bot's own and the workload identity's. */
export const ROLE_ASSIGNMENTS_PER_LAB = 2;

/**
 * What the inventory says against "each lab's resources exist exactly once
 * and nothing was ever created twice": one line per problem, empty when
 * all is well. Secrets live inside their vault and are checked per vault;
 * role assignments are counted per vault since the emulator seeds a few of its own.
 */
export function inventoryProblems(inventory: AzureInventory, labs: string[]): string[] {
  const problems: string[] = [];
  const alive = (type: string) => inventory.resources.filter((r) => r.type === type);
  for (const [type, counts] of Object.entries(inventory.counts)) {
    if (counts.deleted !== 0) problems.push(`${type}: ${counts.deleted} deleted`);
    if (type.startsWith(RESOURCE_TYPES.secret) || type === RESOURCE_TYPES.roleAssignment) continue;
    if (counts.created !== alive(type).length) {
      problems.push(`${type}: created ${counts.created} times for ${alive(type).length} alive`);
    }
  }
  const expected: Record<string, number> = {
    [RESOURCE_TYPES.resourceGroup]: 1,
    [RESOURCE_TYPES.managedCluster]: 1,
    [RESOURCE_TYPES.vault]: 1,
    [RESOURCE_TYPES.identity]: 1,
    [RESOURCE_TYPES.federatedCredential]: 1,
    [RESOURCE_TYPES.roleAssignment]: ROLE_ASSIGNMENTS_PER_LAB,
  };
  for (const lab of labs) {
    const scope = `/resourcegroups/${labNames(lab).resourceGroup}`;
    const own = inventory.resources.filter((r) => {
      const id = r.id.toLowerCase();
      return id.endsWith(scope) || id.includes(`${scope}/`);
    });
    for (const [type, n] of Object.entries(expected)) {
      const found = own.filter((r) => r.type === type).length;
      if (found !== n) problems.push(`${lab}: ${found} × ${type}, expected ${n}`);
    }
    const vault = own.find((r) => r.type === RESOURCE_TYPES.vault);
    const versions = (vault?.secrets ?? []).map((s) => `${s.name}:${s.versions.length}`).sort();
    if (versions.join(",") !== "color:1,db-connection-string:1") {
      problems.push(`${lab}: vault secrets ${versions.join(",") || "none"}`);
    }
  }
  return problems;
}
