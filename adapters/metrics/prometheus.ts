import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ExternalService, Metrics } from "../../src/ports/metrics.ts";

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200];
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The Metrics port on prom-client, with its own registry (no global state, so tests stay apart). */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  readonly #commands: Counter;
  readonly #jobs: Counter;
  readonly #jobSeconds: Histogram;
  readonly #stepSeconds: Histogram;
  readonly #calls: Counter;
  readonly #callSeconds: Histogram;
  readonly #throttled: Counter;
  readonly #hops: Histogram;
  readonly #rotations: Counter;
  readonly #alerts: Counter;
  readonly queueJobs: Gauge;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: "labops_" });
    this.#commands = new Counter({
      name: "labops_commands_total",
      help: "Chat commands received, by platform, command kind and outcome (queued, rejected, duplicate, refused…).",
      labelNames: ["platform", "kind", "outcome"],
      registers,
    });
    this.#jobs = new Counter({
      name: "labops_jobs_total",
      help: "Jobs finished, by command kind and final state.",
      labelNames: ["kind", "state"],
      registers,
    });
    this.#jobSeconds = new Histogram({
      name: "labops_job_duration_seconds",
      help: "Job duration from start to end, by command kind.",
      labelNames: ["kind"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#stepSeconds = new Histogram({
      name: "labops_step_duration_seconds",
      help: "Lab step duration, by step and outcome.",
      labelNames: ["step", "outcome"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#calls = new Counter({
      name: "labops_external_calls_total",
      help: "HTTP calls to Azure, Key Vault, Entra ID, clusters, Slack and Teams, by service, operation and status.",
      labelNames: ["service", "operation", "status"],
      registers,
    });
    this.#callSeconds = new Histogram({
      name: "labops_external_call_duration_seconds",
      help: "Duration of calls to external services.",
      labelNames: ["service"],
      buckets: CALL_BUCKETS,
      registers,
    });
    this.#throttled = new Counter({
      name: "labops_external_throttled_total",
      help: "Calls answered 429 (throttled), by service.",
      labelNames: ["service"],
      registers,
    });
    this.#hops = new Histogram({
      name: "labops_rotation_hop_seconds",
      help: "Seconds from a secret version's creation to each hop (synced, reloaded, rollout, ready, mounted).",
      labelNames: ["hop"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#rotations = new Counter({
      name: "labops_rotations_total",
      help: "Rotations traced, by outcome.",
      labelNames: ["outcome"],
      registers,
    });
    this.#alerts = new Counter({
      name: "labops_alerts_total",
      help: "Alerts posted to chat, by kind.",
      labelNames: ["kind"],
      registers,
    });
    this.queueJobs = new Gauge({
      name: "labops_queue_jobs",
      help: "Jobs in the queues, by queue and state (sampled at scrape).",
      labelNames: ["queue", "state"],
      registers,
    });
  }

  commandReceived(platform: string, kind: string, outcome: string): void {
    this.#commands.inc({ platform, kind, outcome });
  }
  jobFinished(kind: string, state: "completed" | "failed", seconds: number): void {
    this.#jobs.inc({ kind, state });
    this.#jobSeconds.observe({ kind }, seconds);
  }
  stepFinished(step: string, outcome: "done" | "failed" | "retry", seconds: number): void {
    this.#stepSeconds.observe({ step, outcome }, seconds);
  }
  externalCall(service: ExternalService, operation: string, status: string, seconds: number): void {
    this.#calls.inc({ service, operation, status });
    this.#callSeconds.observe({ service }, seconds);
    if (status === "429") this.#throttled.inc({ service });
  }
  rotationHop(hop: string, seconds: number): void {
    this.#hops.observe({ hop }, seconds);
  }
  rotationFinished(outcome: "completed" | "stuck" | "superseded"): void {
    this.#rotations.inc({ outcome });
  }
  alertPosted(kind: "rotation" | "stuck" | "restart"): void {
    this.#alerts.inc({ kind });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
