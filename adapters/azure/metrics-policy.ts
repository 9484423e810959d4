import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import type { ExternalService, Metrics } from "../../src/ports/metrics.ts";

/** A bounded operation label from a request path: the resource type, never its name. */
export function operationOf(method: string, url: string): { service: ExternalService; operation: string } {
  const path = new URL(url).pathname.replace(/\/+/g, "/");
  if (/\/oauth2\/v2\.0\/token$/.test(path)) return { service: "entra", operation: "POST token" };
  const secrets = /^\/(secrets|deletedsecrets)(\/[^/]+)?(\/versions|\/[^/]+)?/.exec(path);
  if (secrets)
    return {
      service: "keyvault",
      operation: `${method} ${secrets[1]}${secrets[3] === "/versions" ? "/versions" : ""}`,
    };
  const provider = /\/providers\/([^/]+)\/([^/]+)(?:\/[^/]+\/([^/]+))?/i.exec(path);
  if (provider) {
    const type = [provider[1], provider[2], provider[3]].filter(Boolean).join("/");
    return { service: "azure", operation: `${method} ${type}` };
  }
  if (/\/resourcegroups\//i.test(path)) return { service: "azure", operation: `${method} resourceGroups` };
  return { service: "azure", operation: `${method} other` };
}

/** Counts every HTTP attempt (retries included), so throttling shows up in the metrics. */
export function metricsPolicy(metrics: Metrics): PipelinePolicy {
  return {
    name: "labopsMetricsPolicy",
    async sendRequest(request, next) {
      const { service, operation } = operationOf(request.method, request.url);
      const started = performance.now();
      try {
        const response = await next(request);
        metrics.externalCall(
          service,
          operation,
          String(response.status),
          (performance.now() - started) / 1000,
        );
        return response;
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        metrics.externalCall(
          service,
          operation,
          status ? String(status) : "error",
          (performance.now() - started) / 1000,
        );
        throw error;
      }
    },
  };
}
