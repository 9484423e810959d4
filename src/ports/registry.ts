import type { ChatAddress, ChatUser, ThreadRef } from "./chat.ts";

export type LabState = "creating" | "ready" | "failed" | "destroying" | "destroyed";

/** What labops knows about one lab. Never holds a secret value. */
export interface LabRecord {
  name: string;
  state: LabState;
  /** The creator; with its members and admins, the only ones who may destroy, extend, rotate or roll back. */
  owner: ChatUser;
  /**
   * Team members the owner or an admin granted the owner's rights on this lab
   * (`lab grant NAME @user`); absent on records written before members existed.
   */
  members?: ChatUser[];
  /** The conversation the lab belongs to; its alerts go there. */
  address: ChatAddress;
  location: string;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  /** Outputs of finished steps (resource ids, vault name and URI, issuer URL, client ids). */
  outputs: Record<string, string>;
  /** Finished steps of the create plan, so any later job resumes after them. */
  steps?: Record<string, { outputs: Record<string, string>; durationMs: number; finishedAt: number }>;
  /** The thread of the create job, where progress and milestones go. */
  thread?: ThreadRef;
  /** The job currently working on the lab, if any. */
  jobId?: string;
  lastError?: { step: string; code: string; message: string };
  /** The host cluster the lab lives on (`lab create NAME --on HOST`); absent for a dedicated lab. */
  host?: string;
  /**
   * Secrets labops added to the vault with `secret rotate NAME --new`, besides
   * the ones every lab is created with (LAB_SECRETS): what `secret rotate`
   * and `secret rollback` accept without `--new`.
   */
  secrets?: string[];
  /** The ref of the command that created it: the footer of its create card, redrawn from this record. */
  correlationId?: string;
}

/**
 * A host cluster (`host create NAME`): the record of a lab, without a team,
 * in a registry of its own. `outputs` holds the cluster's ids and its OIDC
 * issuer; the labs on it name it in their `host`.
 */
export interface HostRecord extends Omit<LabRecord, "host"> {
  nodeCount: number;
}

export interface LabRegistry<R extends Omit<LabRecord, "host"> = LabRecord> {
  get(name: string): Promise<R | undefined>;
  /** Creates the record if no lab of that name exists; false (and nothing written) when one does. */
  create(record: R): Promise<boolean>;
  /**
   * Applies `change` atomically to the stored record and returns the result:
   * concurrent updates never lose each other (`change` may run more than once).
   * Undefined, and nothing written, when absent; a `change` that throws writes nothing.
   */
  update(name: string, change: (record: R) => R): Promise<R | undefined>;
  /** Forgets the lab; nothing when absent. */
  delete(name: string): Promise<void>;
  /** Every lab, oldest first (by `createdAt`, then name): the order `lab list` shows. */
  list(): Promise<R[]>;
}

/** The hosts: the same store as the labs' under a key space of its own. */
export type HostRegistry = LabRegistry<HostRecord>;
