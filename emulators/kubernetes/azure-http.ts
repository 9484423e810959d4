import { Agent, request } from "node:https";

/**
 * The HTTPS client the emulated Azure provider uses to reach the Azure
 * emulator over the wire (token endpoint, Key Vault data plane), trusting the
 * world's CA. Errors are rendered the way the Go SDKs the real provider is
 * built on print them, since that text ends up in FailedMount events.
 */

export interface HttpResult {
  status: number;
  statusText: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export class NetworkError extends Error {}

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export class AzureHttpClient {
  private readonly agent: Agent;

  constructor(caPem: string) {
    this.agent = new Agent({ ca: caPem, keepAlive: true, maxSockets: 32 });
  }

  send(method: string, url: string, headers: Record<string, string>, body?: string): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        reject(new NetworkError(`${goMethod(method)} "${url}": unsupported protocol scheme ""`));
        return;
      }
      const req = request(
        target,
        {
          method,
          agent: this.agent,
          headers:
            body === undefined ? headers : { ...headers, "Content-Length": String(Buffer.byteLength(body)) },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              statusText: res.statusMessage || STATUS_TEXT[res.statusCode ?? 0] || "",
              headers: res.headers,
              body: Buffer.concat(chunks).toString("utf8"),
            }),
          );
          res.on("error", (e) => reject(new NetworkError(`${goMethod(method)} "${url}": ${e.message}`)));
        },
      );
      req.on("timeout", () => req.destroy(new Error("context deadline exceeded")));
      req.on("error", (e: NodeJS.ErrnoException) => {
        const detail =
          e.code === "ECONNREFUSED"
            ? `dial tcp ${target.host}: connect: connection refused`
            : e.code === "ENOTFOUND"
              ? `dial tcp: lookup ${target.hostname}: no such host`
              : e.message;
        reject(new NetworkError(`${goMethod(method)} "${url}": ${detail}`));
      });
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function goMethod(method: string): string {
  return method.charAt(0) + method.slice(1).toLowerCase();
}

const RULE = "--------------------------------------------------------------------------------";

function indentedBody(body: string): string {
  if (body.trim() === "") return "Response contained no body";
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** azcore's ResponseError text: request line, status, error code, the body. */
export function azcoreResponseError(method: string, url: string, res: HttpResult): string {
  const u = new URL(url);
  let code = "";
  try {
    const parsed = JSON.parse(res.body) as { error?: { code?: string } | string };
    code = typeof parsed.error === "string" ? parsed.error : (parsed.error?.code ?? "");
  } catch {
    code = "";
  }
  return [
    `${method} ${u.protocol}//${u.host}${u.pathname}`,
    RULE,
    `RESPONSE ${res.status}: ${res.status} ${res.statusText}`,
    code ? `ERROR CODE: ${code}` : "ERROR CODE UNAVAILABLE",
    RULE,
    indentedBody(res.body),
    RULE,
    "",
  ].join("\n");
}

/** azidentity's AuthenticationFailedError text for a failed token request. */
export function azidentityAuthError(credential: string, url: string, res: HttpResult): string {
  const u = new URL(url);
  return [
    `${credential} authentication failed. `,
    `POST ${u.protocol}//${u.host}${u.pathname}`,
    RULE,
    `RESPONSE ${res.status}: ${res.status} ${res.statusText}`,
    RULE,
    indentedBody(res.body),
    RULE,
    "",
  ].join("\n");
}
