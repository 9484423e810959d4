/**
 * A lab's cluster as the steps, `lab status` and the watcher see it, reached
 * through the cluster-user kubeconfig. Objects are plain Kubernetes JSON.
 */

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface DeploymentState {
  name: string;
  namespace: string;
  generation: number;
  observedGeneration: number;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  conditions: Condition[];
  annotations: Record<string, string>;
  templateAnnotations: Record<string, string>;
}

export interface PodState {
  name: string;
  namespace: string;
  phase: string;
  ready: boolean;
  /** Why a container waits or failed (ContainerCreating, CrashLoopBackOff, CreateContainerConfigError…). */
  reason: string | undefined;
  restartCount: number;
  createdAt: number | undefined;
  readyAt: number | undefined;
  deletionTimestamp: number | undefined;
  labels: Record<string, string>;
  ownerReplicaSet: string | undefined;
}

/** What a pod mounted from the vault: SecretProviderClassPodStatus. */
export interface MountState {
  podName: string;
  namespace: string;
  secretProviderClass: string;
  mounted: boolean;
  /** Vault object name -> version id. */
  versions: Record<string, string>;
}

export interface EventInfo {
  reason: string;
  message: string;
  type: string;
  involvedKind: string;
  involvedName: string;
  count: number;
  lastTimestamp: number | undefined;
}

export interface ClusterSession {
  /** Server-side apply with our field manager; creates or updates, never duplicates. */
  apply(objects: KubeObject[], signal: AbortSignal): Promise<void>;
  getDeployment(namespace: string, name: string, signal: AbortSignal): Promise<DeploymentState | undefined>;
  listPods(namespace: string, labelSelector: string, signal: AbortSignal): Promise<PodState[]>;
  listMounts(namespace: string, signal: AbortSignal): Promise<MountState[]>;
  listEvents(namespace: string, signal: AbortSignal): Promise<EventInfo[]>;
  /**
   * Asks for the namespace's deletion (the namespace controller empties it)
   * and says whether it still exists: "gone", "terminating" while it empties.
   * Absent is "gone".
   */
  deleteNamespace(name: string, signal: AbortSignal): Promise<"gone" | "terminating">;
  close(): void;
}

export interface ClusterPort {
  /** A session for the cluster of `kubeconfig` (YAML with a credential: kept in memory only). */
  connect(kubeconfig: string): ClusterSession;
}
