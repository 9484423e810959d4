/**
 * What labops counts and times, for Prometheus (`GET /metrics`). Label values
 * are bounded sets (kinds, steps, statuses, hops): never names, ids or values.
 */
export type ExternalService = "azure" | "keyvault" | "entra" | "kubernetes" | "slack" | "teams";

export interface Metrics {
  commandReceived(platform: string, kind: string, outcome: string): void;
  jobFinished(kind: string, state: "completed" | "failed", seconds: number): void;
  stepFinished(step: string, outcome: "done" | "failed" | "retry", seconds: number): void;
  /** One HTTP call to something outside; `status` is the HTTP status or an error class. */
  externalCall(service: ExternalService, operation: string, status: string, seconds: number): void;
  rotationHop(hop: string, seconds: number): void;
  rotationFinished(outcome: "completed" | "stuck" | "superseded"): void;
  alertPosted(kind: "rotation" | "stuck" | "restart"): void;
}

export const NO_METRICS: Metrics = {
  commandReceived: () => undefined,
  jobFinished: () => undefined,
  stepFinished: () => undefined,
  externalCall: () => undefined,
  rotationHop: () => undefined,
  rotationFinished: () => undefined,
  alertPosted: () => undefined,
};
