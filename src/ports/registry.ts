import type { ChatAddress, ChatUser, ThreadRef } from "./chat.ts";

export type LabState = "creating" | "ready" | "failed" | "destroying" | "destroyed";

/** What labops knows about one lab. Never holds a secret value. */
export interface LabRecord {
  name: string;
  state: LabState;
  /** The creator; with admins, the only one who may destroy, rotate or roll back. */
  owner: ChatUser;
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
}

export interface LabRegistry {
  get(name: string): Promise<LabRecord | undefined>;
  /** Creates the record; false when a lab of that name exists already. */
  create(record: LabRecord): Promise<boolean>;
  /** Applies `change` atomically to the stored record and returns the result; undefined when absent. */
  update(name: string, change: (record: LabRecord) => LabRecord): Promise<LabRecord | undefined>;
  delete(name: string): Promise<void>;
  list(): Promise<LabRecord[]>;
}

/** A per-lab mutual exclusion with expiry, so a crashed holder cannot block a lab forever. */
export interface LabLocks {
  /** True when `holder` now holds the lock (or already did). */
  acquire(lab: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Extends the lock; false when `holder` lost it. */
  renew(lab: string, holder: string, ttlMs: number): Promise<boolean>;
  release(lab: string, holder: string): Promise<void>;
  holder(lab: string): Promise<string | undefined>;
}
