import type { PodRuntime } from "./controllers/kubelet.ts";
import type { ProxyResult } from "./server.ts";
import type { Container, Pod } from "./types.ts";
import { rfc3339 } from "./util.ts";

/**
 * What a container answers through pods/proxy. podinfo (stefanprodan/podinfo)
 * gets its real endpoints: `/` (runtime info with the UI colour), `/env` (the
 * process environment as a JSON array of "NAME=value"), `/healthz`,
 * `/readyz`, `/version`. Other containers listen on their declared ports and
 * answer 404 for anything; undeclared ports refuse the connection.
 */

const IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function isPodinfo(c: Container): boolean {
  return /(^|\/)podinfo(:|@|$)/.test(c.image ?? "");
}

function versionOf(image: string): string {
  const tag = /:([^/:@]+)$/.exec(image)?.[1] ?? "latest";
  return tag.replace(/^v/, "");
}

function json(status: number, body: unknown): ProxyResult {
  return {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8" },
    body: `${JSON.stringify(body, null, 2)}\n`,
  };
}

/** The process environment of a running container, in the order the runtime sets it. */
export function processEnv(pod: Pod, env: [string, string][]): string[] {
  return [
    `PATH=${IMAGE_PATH}`,
    `HOSTNAME=${pod.metadata.name ?? ""}`,
    ...env.map(([k, v]) => `${k}=${v}`),
    "HOME=/home/app",
  ];
}

export function podinfoRespond(pod: Pod, runtime: PodRuntime, c: Container, path: string): ProxyResult {
  const cr = runtime.containers.get(c.name);
  const env = cr?.env ?? [];
  const get = (k: string) => env.find(([n]) => n === k)?.[1];
  const version = versionOf(c.image ?? "");
  const clean = path.split("?")[0]?.replace(/\/+$/, "") || "/";
  switch (clean) {
    case "/":
    case "/api/info":
      return json(200, {
        hostname: pod.metadata.name ?? "",
        version,
        revision: "emulated",
        color: get("PODINFO_UI_COLOR") ?? "#34577c",
        logo:
          get("PODINFO_UI_LOGO") ??
          "https://raw.githubusercontent.com/stefanprodan/podinfo/gh-pages/cuddle_clap.gif",
        message: get("PODINFO_UI_MESSAGE") ?? `greetings from podinfo v${version}`,
        goos: "linux",
        goarch: "amd64",
        runtime: "go1.23.4",
        num_goroutine: "8",
        num_cpu: "2",
      });
    case "/env":
      return json(200, processEnv(pod, env));
    case "/healthz":
      return json(200, { status: "OK" });
    case "/readyz":
      return cr?.ready ? json(200, { status: "OK" }) : json(503, { status: "NOT OK" });
    case "/version":
      return json(200, { commit: "emulated", version });
    default:
      return {
        status: 404,
        headers: { "Content-Type": "text/plain; charset=utf-8" },
        body: "404 page not found\n",
      };
  }
}

export function podinfoLog(c: Container, startedAt: number | undefined, now: number): string {
  const ts = rfc3339(startedAt ?? now);
  const version = versionOf(c.image ?? "");
  return [
    JSON.stringify({
      level: "info",
      ts,
      caller: "podinfo/main.go:153",
      msg: "Starting podinfo",
      version,
      revision: "emulated",
      port: "9898",
    }),
    JSON.stringify({
      level: "info",
      ts,
      caller: "api/server.go:271",
      msg: "Starting HTTP Server.",
      addr: ":9898",
    }),
    "",
  ].join("\n");
}
