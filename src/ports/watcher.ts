import type { TraceState } from "../watcher/trace.ts";
import type { Card, ThreadRef } from "./chat.ts";
import type { TraceCarrier } from "./tracing.ts";

/**
 * What the rotation watcher keeps outside its process, so that exactly one
 * replica watches a lab (it holds the lab's lease, a `Leases` of its own
 * namespace: ports/leases.ts), another takes over when it dies, and neither
 * says anything twice.
 */

/** The restart report of one lab (restarts with no vault change behind them). */
export interface RestartReport {
  /** When the current report's thread was opened; a new thread only after the rate-limit window. */
  openedAt: number;
  thread: ThreadRef | undefined;
  /** Pod -> restarts counted in this report. */
  pods: Record<string, { restarts: number; reason?: string; replaced?: boolean }>;
  lastAt: number;
}

/** One lab's watcher state: versions seen, traces under way, what was said. Never a value. */
export interface LabWatchState {
  schema: 1;
  lab: string;
  /** False until the first vault poll: what it finds is the baseline, not a rotation. */
  baselined: boolean;
  /** Vault secret -> the current version last seen. */
  versions: Record<string, string>;
  /** Traces not yet finished (completed, superseded or given up). */
  traces: TraceState[];
  /** Ids of recently finished traces, newest last (bounded), so a relist never starts them again. */
  finished: string[];
  /** Restart counts already accounted for, per pod (so a restarted watcher does not report old restarts). */
  restartBaseline: Record<string, number>;
  restarts: RestartReport | undefined;
  updatedAt: number;
}

export type AlertClaim =
  /** This holder may post it now. */
  | { outcome: "claimed" }
  /** It was posted already (by anyone); `thread` is where. */
  | { outcome: "posted"; thread: ThreadRef | undefined }
  /** This holder no longer owns the lab: say nothing. */
  | { outcome: "lease_lost" };

/**
 * Watcher state per lab, written only by the holder of the lab's lease
 * (writes are fenced: a replica that lost its lease cannot overwrite its
 * successor's state or claim an alert).
 */
export interface WatchStateStore {
  load(lab: string): Promise<LabWatchState | undefined>;
  /** False when `holder` does not hold the lab's lease (nothing is written). */
  save(state: LabWatchState, holder: string): Promise<boolean>;
  delete(lab: string): Promise<void>;
  /**
   * Claims the right to post alert `id` of `lab`. An alert claimed by a holder
   * that then died without marking it posted is claimable again by the next
   * holder (at least once beats never for an alert; the window is one chat call).
   */
  claimAlert(lab: string, id: string, holder: string): Promise<AlertClaim>;
  markPosted(lab: string, id: string, thread: ThreadRef | undefined): Promise<void>;
}

/** The thread a rotate or rollback command opened for a version it wrote. */
export interface RotationThread {
  lab: string;
  secret: string;
  version: string;
  thread: ThreadRef;
  /** The card the command posted (title, fields, footer): the watcher rewrites its status and text. */
  card: Card;
  /** Who asked, as the chat shows them. */
  by: string;
  correlationId: string;
  /** When the version was written, on the writer's clock (finer than Key Vault's one-second createdOn). */
  writtenAt: number;
  /** The rotate command's trace context (its job span): the rotation's own trace links to it. */
  trace?: TraceCarrier;
}

export interface RotationThreads {
  /** Records the thread and tells every watcher replica that `lab` has a new version to look at. */
  register(entry: RotationThread): Promise<void>;
  find(lab: string, secret: string, version: string): Promise<RotationThread | undefined>;
  /** Calls `listener` with the lab of every registration from now on; resolves with an unsubscribe. */
  subscribe(listener: (lab: string) => void): Promise<() => Promise<void>>;
}
