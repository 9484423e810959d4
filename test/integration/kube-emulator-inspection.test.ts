import { request } from "node:https";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectApiError, type KubeTestBed, startKubeTestBed, waitFor } from "./helpers/kube.ts";

// The emulator's own endpoints and the secondary APIs a bot may touch (events.k8s.io, pods/log, TokenRequest).

let bed: KubeTestBed;

beforeAll(async () => {
  bed = await startKubeTestBed();
});

afterAll(async () => {
  await bed?.stop();
});

function getJson(url: string, ca: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
      );
    })
      .on("error", reject)
      .end();
  });
}

describe("inspection", () => {
  it("serves the inventory per cluster and for all clusters", async () => {
    const one = await getJson(`${bed.cluster.server}/_emulator/inventory`, bed.cluster.caPem);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ cluster: { name: bed.cluster.name }, objects: { Namespace: 4 } });
    const all = await getJson(`${bed.emulator.adminEndpoint}/_emulator/inventory`, bed.cluster.caPem);
    expect(all.body).toMatchObject({ totals: { clusters: 1 } });
    const listed = await getJson(`${bed.emulator.adminEndpoint}/_emulator/clusters`, bed.cluster.caPem);
    expect(listed.body).toEqual([
      expect.objectContaining({ name: bed.cluster.name, server: bed.cluster.server }),
    ]);
  });

  it("fails requests as a fault plan says, with the API server's 429 body and Retry-After", async () => {
    const remove = bed.cluster.injectFault({
      method: "GET",
      path: /\/namespaces$/,
      status: 429,
      count: 1,
      retryAfterSeconds: 2,
    });
    try {
      const err = await expectApiError(bed.core.listNamespace());
      expect(err.code).toBe(429);
      expect(err.status).toMatchObject({
        reason: "TooManyRequests",
        message: "Too many requests, please try again later.",
      });
      // count: 1 — the next call goes through.
      const list = await bed.core.listNamespace();
      expect(list.items.length).toBeGreaterThan(0);
    } finally {
      remove();
    }
  });

  it("refuses the API without the cluster's token", async () => {
    const res = await getJson(`${bed.cluster.server}/api/v1/namespaces`, bed.cluster.caPem);
    expect(res).toEqual({
      status: 401,
      body: {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: "Unauthorized",
        reason: "Unauthorized",
        code: 401,
      },
    });
  });
});

describe("secondary APIs", () => {
  it("shows core events through events.k8s.io/v1", async () => {
    await bed.core.createNamespace({ body: { metadata: { name: "ev" } } });
    await bed.core.createNamespacedEvent({
      namespace: "ev",
      body: {
        metadata: { name: "hello.1" },
        involvedObject: { kind: "Namespace", name: "ev" },
        reason: "Greeting",
        message: "hello",
        type: "Normal",
        source: { component: "test" },
      },
    });
    const events = await bed.kc.makeApiClient(k8s.EventsV1Api).listNamespacedEvent({ namespace: "ev" });
    expect(events.items[0]).toMatchObject({
      reason: "Greeting",
      note: "hello",
      regarding: { kind: "Namespace", name: "ev" },
    });
  });

  it("issues service-account tokens through TokenRequest", async () => {
    await bed.core.createNamespace({ body: { metadata: { name: "tok" } } });
    await waitFor("the default service account", async () => {
      const sas = await bed.core.listNamespacedServiceAccount({ namespace: "tok" });
      return sas.items.some((s) => s.metadata?.name === "default");
    });
    const tr = await bed.core.createNamespacedServiceAccountToken({
      name: "default",
      namespace: "tok",
      body: { spec: { audiences: ["api://AzureADTokenExchange"], expirationSeconds: 3600 } },
    });
    const claims = JSON.parse(Buffer.from(tr.status?.token?.split(".")[1] ?? "", "base64url").toString());
    expect(claims).toMatchObject({
      sub: "system:serviceaccount:tok:default",
      aud: "api://AzureADTokenExchange",
    });
    expect(bed.world.tokenRequests.at(-1)).toMatchObject({ namespace: "tok", serviceAccount: "default" });
  });
});
