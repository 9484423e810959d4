import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "../../emulators/otlp/index.ts";
import { TEST_BOT_TOKEN, TEST_SIGNING_SECRET, waitFor } from "../helpers/env.ts";
import { exitOf, sayUntilQueued, startWebAndWorkers, type WebAndWorkers } from "../helpers/processes.ts";

const TIME_SCALE = 300;

/** OTLP spans' kinds. */
const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

/**
 * The real OpenTelemetry SDK in every process, configured by OTEL_* alone and
 * exporting over OTLP/HTTP to the in-process receiver: the web role here
 * (http/protobuf), and two worker processes (http/json). A `lab create` sent
 * as a signed Slack request is handed from the first worker to the second by
 * a SIGTERM half-way (a resume), and is still one tree: the web role's
 * intake span, which queued the job with its own context (it is the job's
 * producer), both workers' job spans under it, their plans, steps and Azure
 * calls down to the SDK's own HTTP spans, and the chat calls.
 */
describe("one lab create sent through Slack is one trace across the web and worker processes", () => {
  let receiver: OtlpReceiver;
  let t: WebAndWorkers;

  const otel = (service: string, protocol: string): Record<string, string> => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    OTEL_SERVICE_NAME: service,
    OTEL_BSP_SCHEDULE_DELAY: "100",
  });

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    t = await startWebAndWorkers({ timeScale: TIME_SCALE, webEnv: otel("labops-web", "http/protobuf") });
  });

  afterEach(({ task }) => {
    if (task.result?.state === "fail") process.stderr.write(t.workerLogs.join(""));
  });

  afterAll(async () => {
    await t?.stop();
    await receiver?.close();
  });

  it("forms one tree from the chat request through both workers down to the Azure SDK's HTTP spans", {
    timeout: 120_000,
  }, async () => {
    await sayUntilQueued(t.slack, { command: "/lab", text: "create team-o", channel: "C0OTEL" });
    const worker = (n: number) =>
      t.startWorker({ LABOPS_JOB_LOCK_MS: "1500", ...otel(`labops-worker-${n}`, "http/json") });
    const steps = async () => Object.keys((await t.registry.get("team-o"))?.steps ?? {});

    // The first worker runs the plan until the resource group is made, then is stopped: it hands the job back.
    const first = worker(1);
    await waitFor(async () => (await steps()).includes("rg") || undefined, "the first step", 60_000, 5);
    first.kill("SIGTERM");
    expect(await exitOf(first)).toEqual({ code: 0, signal: null });
    expect(await steps()).not.toHaveLength(12);

    const second = worker(2);
    await waitFor(
      async () => ((await t.registry.get("team-o"))?.state === "ready" ? true : undefined),
      "the lab to be ready on the second worker",
      60_000,
    );
    // Its stop exports what its batch still holds; the web role's does the same.
    second.kill("SIGTERM");
    expect(await exitOf(second)).toEqual({ code: 0, signal: null });
    await t.web.stop();

    const all = receiver.spans();
    const intake = all.find(
      (s) =>
        s.name === "labops.intake" &&
        s.attributes["labops.intake.outcome"] === "queued" &&
        s.attributes["labops.command.kind"] === "lab.create",
    );
    if (!intake) throw new Error(`no queued intake span among ${all.map((s) => s.name).join(", ")}`);
    const trace = receiver.trace(intake.traceId);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const service = (s: ReceivedSpan) => s.resource["service.name"];
    const childrenOf = (parent: ReceivedSpan, name: string | RegExp) =>
      trace.filter(
        (s) =>
          s.parentSpanId === parent.spanId &&
          (typeof name === "string" ? s.name === name : name.test(s.name)),
      );

    // The root: the web role's server span, with the command's facts (set when intake answered).
    expect(intake.parentSpanId).toBeUndefined();
    expect(intake.kind).toBe(SERVER);
    expect(service(intake)).toBe("labops-web");
    expect(intake.encoding).toBe("protobuf");
    expect(intake.attributes).toMatchObject({
      "labops.chat.platform": "slack",
      "labops.delivery.kind": "command",
    });
    expect(String(intake.attributes["labops.correlation_id"])).toMatch(/\S/);

    // One tree: every other span of the trace has its parent in it.
    const orphans = trace.filter((s) => s !== intake && !byId.has(s.parentSpanId ?? ""));
    expect(orphans.map((s) => `${service(s)} ${s.name}`)).toEqual([]);
    expect(new Set(trace.map(service))).toEqual(
      new Set(["labops-web", "labops-worker-1", "labops-worker-2"]),
    );

    // Intake queued the job and put its own span's context in it: no producer span of its own.
    expect(trace.filter((s) => s.kind === PRODUCER).map((s) => s.name)).toEqual([]);
    expect(intake.attributes).toMatchObject({ "labops.lab": "team-o" });
    const jobId = intake.attributes["labops.job.id"];
    expect(String(jobId)).toMatch(/^d-/);

    // Both attempts continue the trace under intake's span: the first handed back, the second resumed.
    const jobs = childrenOf(intake, "labops.job lab.create").sort((a, b) =>
      a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1,
    );
    expect(jobs.map((j) => [service(j), j.kind, j.encoding, j.attributes["labops.job.id"]])).toEqual([
      ["labops-worker-1", CONSUMER, "json", jobId],
      ["labops-worker-2", CONSUMER, "json", jobId],
    ]);
    const [firstJob, secondJob] = jobs as [ReceivedSpan, ReceivedSpan];
    expect(firstJob.events.map((e) => e.name)).toContain("handed_back");
    expect(firstJob.attributes["labops.job.resumed"]).toBe(false);
    expect(secondJob.attributes["labops.job.resumed"]).toBe(true);
    expect(secondJob.status.code).not.toBe(2);

    // Each attempt ran the plan; the resumed one skipped what the first had checkpointed.
    const [firstPlan] = childrenOf(firstJob, "labops.plan");
    const [secondPlan] = childrenOf(secondJob, "labops.plan");
    if (!firstPlan || !secondPlan) throw new Error("a job without its plan span");
    expect(childrenOf(firstPlan, "labops.step rg")).toHaveLength(1);
    expect(firstPlan.events.map((e) => e.name)).toContain("drained");
    expect(firstPlan.status.code).not.toBe(2);
    const skipped = secondPlan.events
      .filter((e) => e.name === "skipped")
      .map((e) => e.attributes["labops.step"]);
    expect(skipped).toContain("rg");
    expect(secondPlan.attributes["labops.plan.skipped"]).toBe(skipped.length);
    expect(childrenOf(secondPlan, "labops.step rg")).toEqual([]);
    const stepNames = trace.filter((s) => s.name.startsWith("labops.step ")).map((s) => s.name);
    for (const step of [
      "rg",
      "aks",
      "kv",
      "mi",
      "role-mi",
      "fic",
      "creds",
      "reloader",
      "workload",
      "verify",
    ]) {
      expect(stepNames, step).toContain(`labops.step ${step}`);
    }

    // A step's port calls below it, and the Azure SDK's own HTTP spans below those (with the SDK's facts).
    const [aksStep] = trace.filter((s) => s.name === "labops.step aks");
    if (!aksStep) throw new Error("no aks step");
    const [createCluster] = childrenOf(aksStep, /^labops\.azure create cluster /);
    if (!createCluster) throw new Error("no Azure span under the aks step");
    expect(createCluster.attributes["labops.azure.operation"]).toMatch(/^create cluster /);
    const http = childrenOf(createCluster, /^HTTP (PUT|GET)$/);
    expect(http.length).toBeGreaterThan(1); // the PUT and the long-running operation's polls
    const put = http.find((s) => s.name === "HTTP PUT");
    expect(put?.kind).toBe(CLIENT);
    expect(put?.attributes).toMatchObject({
      "http.method": "PUT",
      "az.sdk.package": "@azure/core-rest-pipeline",
    });
    expect(String(put?.attributes["http.url"])).toMatch(/managedClusters/);
    expect(put?.attributes["http.status_code"]).toBeGreaterThanOrEqual(200);

    // The Kubernetes calls of the workload step, and the chat calls (the card and its milestones).
    const [workload] = trace.filter((s) => s.name === "labops.step workload");
    if (!workload) throw new Error("no workload step");
    expect(childrenOf(workload, /^labops\.k8s apply /).length).toBeGreaterThan(0);
    const chatCalls = trace.filter((s) => s.name.startsWith("labops.chat "));
    expect(chatCalls.map((s) => s.name)).toEqual(
      expect.arrayContaining(["labops.chat openThread", "labops.chat reply", "labops.chat updateCard"]),
    );

    // Time nests: each span lies within its parent's start, and the tree spans the whole create.
    for (const s of trace) {
      const parent = byId.get(s.parentSpanId ?? "");
      if (parent && s.kind !== CONSUMER)
        expect(s.startTimeUnixNano >= parent.startTimeUnixNano, s.name).toBe(true);
    }

    // No credential anywhere in the trace: tokens, signing secret, client secret, any JWT or bearer header.
    const text = JSON.stringify(trace, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
    const env = t.world.env();
    for (const credential of [
      TEST_BOT_TOKEN,
      TEST_SIGNING_SECRET,
      String(env.AZURE_CLIENT_SECRET),
      String(env.LABOPS_SECRET_KEY),
    ]) {
      expect(text).not.toContain(credential);
    }
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{5,}\./);
    expect(text).not.toMatch(/Bearer [A-Za-z0-9]/);

    // The workers' log lines carry the trace: the correlation id's and the trace's ids meet.
    const lines = t.workerLogs
      .join("")
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const started = lines.filter((l) => l.msg === "job.started");
    expect(started.map((l) => l.trace_id)).toEqual([intake.traceId, intake.traceId]);
    expect(started.map((l) => l.correlationId)).toEqual([
      intake.attributes["labops.correlation_id"],
      intake.attributes["labops.correlation_id"],
    ]);
    expect(started.map((l) => l.span_id)).toEqual(jobs.map((j) => j.spanId));
  });
});
