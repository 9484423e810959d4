import type { AzureLatencyProfile } from "../../emulators/azure/latency.ts";
import type { KubeletTiming } from "../../emulators/kubernetes/controllers/kubelet.ts";

/** A step of a plan as far as timing goes: its name and what it waits for. */
export interface StepNode {
  name: string;
  dependsOn: readonly string[];
}

export interface CriticalPath {
  /** Emulated milliseconds from the first step's start to the last step's end, with unlimited parallelism. */
  totalMs: number;
  /** The chain of steps that sets `totalMs`, first to last. */
  path: string[];
  /** When each step ends, steps starting as soon as their dependencies end. */
  finishMs: Record<string, number>;
}

/**
 * The longest path through the step graph, each step taking `durations[name]`
 * (0 when absent). Throws on an unknown dependency or a cycle: a plan that
 * could not run has no critical path.
 */
export function criticalPath(
  steps: readonly StepNode[],
  durations: Readonly<Record<string, number>>,
): CriticalPath {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const finishMs: Record<string, number> = {};
  const via: Record<string, string | undefined> = {};
  const visiting = new Set<string>();
  const finish = (name: string): number => {
    const known = finishMs[name];
    if (known !== undefined) return known;
    const step = byName.get(name);
    if (!step) throw new Error(`unknown step ${name}`);
    if (visiting.has(name)) throw new Error(`cycle through step ${name}`);
    visiting.add(name);
    let start = 0;
    let before: string | undefined;
    for (const d of step.dependsOn) {
      const end = finish(d);
      if (before === undefined || end > start) {
        start = end;
        before = d;
      }
    }
    visiting.delete(name);
    via[name] = before;
    const end = start + (durations[name] ?? 0);
    finishMs[name] = end;
    return end;
  };
  let last: string | undefined;
  for (const s of steps) {
    const end = finish(s.name);
    if (last === undefined || end > (finishMs[last] ?? 0)) last = s.name;
  }
  const path: string[] = [];
  for (let at = last; at !== undefined; at = via[at]) path.unshift(at);
  return { totalMs: last === undefined ? 0 : (finishMs[last] ?? 0), path, finishMs };
}

/** One step after the other, in `order`: the sum of their durations. */
export function sequentialTotal(
  order: readonly string[],
  durations: Readonly<Record<string, number>>,
): number {
  return order.reduce((sum, name) => sum + (durations[name] ?? 0), 0);
}

/**
 * What each lab create step costs in emulated milliseconds, read off the
 * emulators' latency profiles: the call that dominates the step, nothing for
 * steps that only write to the Kubernetes API. `secrets` waits for the bot's
 * role assignment to reach the data plane (propagation counts from the end of
 * role-bot) and then reads and writes two secrets; `verify` waits for a fresh
 * pod: volume, image pull on an empty node, start, readiness.
 */
export function labStepDurations(
  azure: Readonly<AzureLatencyProfile>,
  kubelet: Readonly<
    Pick<KubeletTiming, "volumeSetupMs" | "imagePullMs" | "containerStartMs" | "readinessMs">
  >,
): Record<string, number> {
  return {
    rg: azure.resourceGroupCreate,
    aks: azure.managedClusterCreate,
    kv: azure.vaultCreate,
    mi: azure.identityCreate,
    "role-mi": azure.roleAssignmentCreate,
    "role-bot": azure.roleAssignmentCreate,
    fic: azure.federatedCredentialCreate,
    secrets: azure.roleAssignmentPropagation + 4 * azure.vaultDataPlane,
    creds: azure.listClusterUserCredential,
    reloader: 0,
    workload: 0,
    verify: kubelet.volumeSetupMs + kubelet.imagePullMs + kubelet.containerStartMs + kubelet.readinessMs,
    // The reference's `az aks enable-addons`: a second cluster PUT, an update.
    addon: azure.managedClusterUpdate,
  };
}
