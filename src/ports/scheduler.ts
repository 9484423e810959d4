/** Timed work about a lab: the reminder before expiry and the destroy at expiry. */
export interface LabScheduler {
  /** (Re)schedules the reminder and the expiry of `lab`; replaces any earlier schedule. */
  scheduleExpiry(lab: string, expiresAt: number): Promise<void>;
  /** Drops every schedule of `lab`. */
  cancel(lab: string): Promise<void>;
}
