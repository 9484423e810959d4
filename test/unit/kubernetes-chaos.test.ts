import * as k8s from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  KUBE_REQUEST_RETRY,
  KubeClusterPort,
  type KubeRetryPolicy,
  requestRetryDelay,
} from "../../adapters/kubernetes/cluster.ts";
import { isLongRunning } from "../../emulators/kubernetes/faults.ts";
import { CancelledError, ExternalError } from "../../src/errors.ts";
import type { KubeObject } from "../../src/ports/cluster.ts";
import { expectApiError, type KubeTestBed, startKubeTestBed, waitFor } from "../integration/helpers/kube.ts";

// Chaos mode of the AKS emulator, seen by the unchanged client-node through a cluster's kubeconfig.

let bed: KubeTestBed;

beforeAll(async () => {
  bed = await startKubeTestBed();
});
afterAll(async () => {
  await bed?.stop();
});
afterEach(() => {
  bed.emulator.faults.setChaos(null);
});

/** What client-node saw for one list call: the status code of its ApiException, or 200. */
async function outcome(): Promise<number> {
  try {
    await bed.core.listNamespace();
    return 200;
  } catch (e) {
    if (e instanceof k8s.ApiException) return e.code;
    throw e;
  }
}

async function outcomes(n: number): Promise<number[]> {
  const out: number[] = [];
  // One at a time: the draw order is the request order.
  for (let i = 0; i < n; i++) out.push(await outcome());
  return out;
}

describe("Kubernetes emulator chaos mode", () => {
  it("answers a drawn 429 as the API server does: a TooManyRequests Status and Retry-After: 1", async () => {
    bed.emulator.faults.setChaos({ rate: 1, statuses: [429] });
    let caught: unknown;
    try {
      await bed.core.listNamespace();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(k8s.ApiException);
    const e = caught as k8s.ApiException<string>;
    expect(e.code).toBe(429);
    expect(e.headers["retry-after"]).toBe("1");
    expect(JSON.parse(e.body)).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Too many requests, please try again later.",
      reason: "TooManyRequests",
      details: { retryAfterSeconds: 1 },
      code: 429,
    });
  });

  it("answers drawn 500 and 503 with InternalError and ServiceUnavailable, without Retry-After", async () => {
    bed.emulator.faults.setChaos({ rate: 1, statuses: [500] });
    const internal = await expectApiError(bed.apps.listNamespacedDeployment({ namespace: "default" }));
    expect(internal.code).toBe(500);
    expect(internal.status).toMatchObject({
      kind: "Status",
      status: "Failure",
      reason: "InternalError",
      code: 500,
    });
    expect(internal.status.message).toMatch(/^Internal error occurred: /);

    bed.emulator.faults.setChaos({ rate: 1, statuses: [503] });
    let caught: unknown;
    try {
      await bed.core.readNamespace({ name: "default" });
    } catch (e) {
      caught = e;
    }
    const e = caught as k8s.ApiException<string>;
    expect(e.code).toBe(503);
    expect(e.headers["retry-after"]).toBeUndefined();
    expect(JSON.parse(e.body)).toMatchObject({ reason: "ServiceUnavailable", code: 503 });
  });

  it("replays the same failures in the same order for the same seed, and another seed differs", async () => {
    const options = { rate: 0.4, seed: 4242, statuses: [429, 500, 503] };
    bed.emulator.faults.setChaos(options);
    const first = await outcomes(40);
    bed.emulator.faults.setChaos(options);
    const again = await outcomes(40);
    expect(again).toEqual(first);
    // Not vacuous: the sequence mixes successes with each drawn status.
    expect(first.filter((c) => c === 200).length).toBeGreaterThan(10);
    expect(new Set(first.filter((c) => c !== 200))).toEqual(new Set([429, 500, 503]));

    bed.emulator.faults.setChaos({ ...options, seed: 4243 });
    expect(await outcomes(40)).not.toEqual(first);
  });

  it("restores normal service with setChaos(null), and counts what it did", async () => {
    const before = bed.emulator.stats();
    bed.emulator.faults.setChaos({ rate: 1 });
    expect(await outcomes(5)).not.toContain(200);
    const during = bed.emulator.stats();
    expect(during.chaos.failures - before.chaos.failures).toBe(5);
    expect(during.faultsInjected - before.faultsInjected).toBe(5);
    expect(during.chaos.failuresByCluster[bed.cluster.name]).toBeGreaterThanOrEqual(5);

    bed.emulator.faults.setChaos(null);
    expect(await outcomes(5)).toEqual([200, 200, 200, 200, 200]);
    expect(bed.emulator.stats().chaos.failures).toBe(during.chaos.failures);
  });

  it("holds requests back by drawn latency and then serves them", async () => {
    const before = bed.emulator.stats().chaos;
    bed.emulator.faults.setChaos({ rate: 0, seed: 1, latencyMs: [500, 1_500], latencyRate: 1 });
    expect(await outcomes(3)).toEqual([200, 200, 200]);
    const after = bed.emulator.stats().chaos;
    expect(after.delays - before.delays).toBe(3);
    expect(after.delayedMs - before.delayedMs).toBeGreaterThanOrEqual(1_500);
    expect(after.failures).toBe(before.failures);
  });

  it("spares watches: a stream opened while every request fails starts and keeps delivering", async () => {
    await bed.core.createNamespace({ body: { metadata: { name: "chaos-watch" } } });
    bed.emulator.faults.setChaos({ rate: 1 });
    const seen: string[] = [];
    let ended: unknown = "open";
    const controller = await new k8s.Watch(bed.kc).watch(
      "/api/v1/namespaces/chaos-watch/configmaps",
      {},
      (type, obj: k8s.V1ConfigMap) => seen.push(`${type} ${obj.metadata?.name}`),
      (err) => {
        ended = err;
      },
    );
    try {
      expect(bed.emulator.stats().chaos.spared).toBeGreaterThanOrEqual(1);
      // Regular requests still fail meanwhile.
      expect(await outcome()).not.toBe(200);
      bed.emulator.faults.setChaos(null);
      await bed.core.createNamespacedConfigMap({
        namespace: "chaos-watch",
        body: { metadata: { name: "after-chaos" }, data: { a: "b" } },
      });
      await waitFor("the watch to see the new ConfigMap", () => seen.includes("ADDED after-chaos"));
      expect(ended).toBe("open");
    } finally {
      controller.abort();
    }
  });

  it("never fails the in-cluster controllers: a Deployment rolls out while every API request fails", async () => {
    await bed.core.createNamespace({ body: { metadata: { name: "chaos-ctl" } } });
    await bed.apps.createNamespacedDeployment({
      namespace: "chaos-ctl",
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: { containers: [{ name: "web", image: "ghcr.io/stefanprodan/podinfo:6.7.1" }] },
          },
        },
      },
    });
    bed.emulator.faults.setChaos({ rate: 1 });
    const failuresBefore = bed.emulator.stats().chaos.failures;
    // Read through the handle, not HTTP: the controllers' progress is the only thing that can move it.
    await waitFor("two ready pods under chaos", () => bed.cluster.inventory().pods.ready >= 2, 20_000);
    expect(bed.cluster.inventory().errors).toEqual([]);
    // The controllers drew nothing from chaos, which was on all along (a regular request still fails).
    expect(bed.emulator.stats().chaos.failures).toBe(failuresBefore);
    expect(await outcome()).not.toBe(200);
  });

  it("refuses options the API server could not produce", () => {
    expect(() => bed.emulator.faults.setChaos({ rate: 1.5 })).toThrow(RangeError);
    expect(() => bed.emulator.faults.setChaos({ rate: 0.1, statuses: [404] })).toThrow(RangeError);
    expect(() => bed.emulator.faults.setChaos({ rate: 0.1, latencyMs: [10, 5] })).toThrow(RangeError);
  });

  it("knows the API server's long-running requests", () => {
    const q = (s: string) => new URLSearchParams(s);
    expect(isLongRunning("/api/v1/namespaces/x/pods", q("watch=true"))).toBe(true);
    expect(isLongRunning("/api/v1/watch/namespaces/x/pods", q(""))).toBe(true);
    expect(isLongRunning("/apis/apps/v1/watch/deployments", q(""))).toBe(true);
    expect(isLongRunning("/api/v1/namespaces/x/pods/p/proxy/env", q(""))).toBe(true);
    expect(isLongRunning("/api/v1/namespaces/x/pods/p/log", q(""))).toBe(true);
    expect(isLongRunning("/api/v1/namespaces/x/pods", q("watch=false"))).toBe(false);
    expect(isLongRunning("/apis/apps/v1/namespaces/watch/deployments", q(""))).toBe(false);
    expect(isLongRunning("/api/v1/namespaces/x/pods/p/status", q(""))).toBe(false);
  });
});

/** Retries as in production, with back-offs short enough for a test; jitter pinned. */
const FAST: KubeRetryPolicy = { ...KUBE_REQUEST_RETRY, initialDelayMs: 2, maxDelayMs: 10 };

function session(retry: KubeRetryPolicy = FAST) {
  return new KubeClusterPort({ retry, random: () => 0.5 }).connect(bed.cluster.kubeconfig());
}

function objects(ns: string): KubeObject[] {
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "app", namespace: ns } },
    ...["a", "b", "c", "d"].map((n) => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `cm-${n}`, namespace: ns },
      data: { n },
    })),
  ];
}

function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e,
  );
}

describe("the bot's cluster session under Kubernetes chaos", () => {
  const CHAOS = { rate: 0.4, seed: 77, statuses: [500, 503] };

  it("without request retries, one transient answer fails a whole apply (the weakness chaos found)", async () => {
    bed.emulator.faults.setChaos(CHAOS);
    const e = await failure(
      session({ ...FAST, maxRetries: 0 }).apply(objects("sess-bare"), AbortSignal.timeout(10_000)),
    );
    expect(e).toBeInstanceOf(ExternalError);
    expect((e as ExternalError).retryable).toBe(true);
    expect([500, 503]).toContain((e as ExternalError).status);
  });

  it("retries a request answered with 5xx where it happened, so the same seeded chaos cannot fail the apply", async () => {
    bed.emulator.faults.setChaos(CHAOS);
    const before = bed.emulator.stats().chaos.failures;
    await session().apply(objects("sess-chaos"), AbortSignal.timeout(10_000));
    // Not vacuous: chaos failed several of the apply's requests on the way.
    expect(bed.emulator.stats().chaos.failures - before).toBeGreaterThanOrEqual(3);
    bed.emulator.faults.setChaos(null);
    const cms = await bed.core.listNamespacedConfigMap({ namespace: "sess-chaos" });
    expect(cms.items.map((c) => c.metadata?.name).filter((n) => n?.startsWith("cm-"))).toEqual([
      "cm-a",
      "cm-b",
      "cm-c",
      "cm-d",
    ]);
  });

  it("waits out a 429 for at least its Retry-After, then succeeds", async () => {
    expect(
      requestRetryDelay(
        FAST,
        1,
        new ExternalError("kubernetes", "TooManyRequests", "x", { status: 429, retryAfterMs: 1_000 }),
        () => 0,
      ),
    ).toBe(1_000);
    const remove = bed.cluster.injectFault({
      method: "GET",
      path: /\/pods$/,
      status: 429,
      count: 1,
      retryAfterSeconds: 1,
    });
    try {
      const faultsBefore = bed.cluster.inventory().requests.fault ?? 0;
      await expect(session().listPods("default", "app=none", AbortSignal.timeout(10_000))).resolves.toEqual(
        [],
      );
      expect((bed.cluster.inventory().requests.fault ?? 0) - faultsBefore).toBe(1);
    } finally {
      remove();
    }
  });

  it("does not retry answers that will not change (409), and gives up after maxRetries", async () => {
    let remove = bed.cluster.injectFault({ method: "GET", path: /\/pods$/, status: 409, count: 1 });
    try {
      const e = await failure(session().listPods("default", "", AbortSignal.timeout(10_000)));
      expect((e as ExternalError).status).toBe(409);
    } finally {
      remove();
    }
    remove = bed.cluster.injectFault({ method: "GET", path: /\/pods$/, status: 503 });
    try {
      const before = bed.cluster.inventory().requests.fault ?? 0;
      const e = await failure(
        session({ ...FAST, maxRetries: 2 }).listPods("default", "", AbortSignal.timeout(10_000)),
      );
      expect(e).toBeInstanceOf(ExternalError);
      expect((e as ExternalError).status).toBe(503);
      expect((e as ExternalError).retryable).toBe(true);
      // The first try and two retries, then the step runner's retries take over.
      expect((bed.cluster.inventory().requests.fault ?? 0) - before).toBe(3);
    } finally {
      remove();
    }
  });

  it("stops waiting when the step is cancelled", async () => {
    const remove = bed.cluster.injectFault({ method: "GET", path: /\/pods$/, status: 503 });
    try {
      const controller = new AbortController();
      const pending = failure(
        session({ maxRetries: 3, initialDelayMs: 60_000, maxDelayMs: 60_000 }).listPods(
          "default",
          "",
          controller.signal,
        ),
      );
      await waitFor("the first 503", () => (bed.cluster.inventory().requests.fault ?? 0) > 0);
      controller.abort();
      expect(await pending).toBeInstanceOf(CancelledError);
    } finally {
      remove();
    }
  });
});
