import { describe, expect, it } from "vitest";
import { operationOf } from "../../adapters/azure/metrics-policy.ts";
import { PrometheusMetrics } from "../../adapters/metrics/prometheus.ts";

describe("metrics", () => {
  it("labels Azure calls by resource type, never by name", () => {
    expect(
      operationOf(
        "PUT",
        "https://management.azure.com/subscriptions/s/resourceGroups/lab-x-rg/providers/Microsoft.ContainerService/managedClusters/lab-x-aks?api-version=1",
      ),
    ).toEqual({ service: "azure", operation: "PUT Microsoft.ContainerService/managedClusters" });
    expect(
      operationOf(
        "PUT",
        "https://m/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi/federatedIdentityCredentials/f",
      ),
    ).toEqual({
      service: "azure",
      operation: "PUT Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
    });
    expect(operationOf("PUT", "https://m//subscriptions/s/resourcegroups/lab-x-rg")).toEqual({
      service: "azure",
      operation: "PUT resourceGroups",
    });
    expect(operationOf("GET", "https://kv-x.vault.azure.net/secrets/color/versions?api-version=7")).toEqual({
      service: "keyvault",
      operation: "GET secrets/versions",
    });
    expect(operationOf("PUT", "https://kv-x.vault.azure.net/secrets/color")).toEqual({
      service: "keyvault",
      operation: "PUT secrets",
    });
    expect(operationOf("POST", "https://login/tenant/oauth2/v2.0/token")).toEqual({
      service: "entra",
      operation: "POST token",
    });
  });

  it("renders Prometheus text with throttles counted apart", async () => {
    const m = new PrometheusMetrics({ defaultMetrics: false });
    m.externalCall("azure", "PUT resourceGroups", "429", 0.01);
    m.externalCall("azure", "PUT resourceGroups", "200", 0.02);
    m.commandReceived("slack", "lab.create", "queued");
    const { body, contentType } = await m.render();
    expect(contentType).toMatch(/text\/plain/);
    expect(body).toContain('labops_external_throttled_total{service="azure"} 1');
    expect(body).toContain(
      'labops_external_calls_total{service="azure",operation="PUT resourceGroups",status="200"} 1',
    );
    expect(body).toContain('labops_commands_total{platform="slack",kind="lab.create",outcome="queued"} 1');
  });
});
