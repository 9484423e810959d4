import type { IncomingMessage, ServerResponse } from "node:http";
import type { EmulatorClock } from "../shared/clock.ts";
import { type ClusterApi, type DeleteOptions, RawJson, type WatchHandle } from "./api.ts";
import {
  ApiError,
  badRequest,
  internalError,
  methodNotAllowed,
  notFoundPath,
  type StatusBody,
  unauthorized,
} from "./errors.ts";
import { isLongRunning, type KubeChaos } from "./faults.ts";
import { apiGroups, apiVersionOf, findResource, type ResourceType } from "./resources.ts";
import { selectorString } from "./selectors.ts";
import type { Deployment, KubeObject, ReplicaSet } from "./types.ts";
import { isPlainObject } from "./util.ts";

/**
 * The HTTP front of one emulated API server: bearer-token authentication,
 * discovery, the REST paths of every served resource (with the legacy
 * /watch/ prefix), watch streams, subresources (status, scale, proxy, log,
 * token) and the emulator's own /_emulator endpoints.
 */

export interface ProxyResult {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

export interface ServerHooks {
  /** pods/proxy: what the pod's container answers on `port` for `path`. */
  podProxy(namespace: string, podSpec: string, path: string, method: string): ProxyResult;
  /** pods/log. */
  podLog(namespace: string, name: string, container: string | undefined): string;
  /** serviceaccounts/token (TokenRequest). */
  tokenRequest(namespace: string, serviceAccount: string, body: unknown): Promise<KubeObject>;
  /** GET /_emulator/…; undefined when the path is not an emulator path. */
  emulatorRoute(path: string, query: URLSearchParams): unknown;
}

/** A planned failure of matching API requests (the API server's 429s, 5xx, …), for tests of the bot's retries. */
export interface ApiFault {
  /** HTTP method to match; any when absent. */
  method?: string;
  /** Matched against the request path; any when absent. */
  path?: RegExp;
  status: number;
  /** How many requests to fail; every matching one until removed when absent. */
  count?: number;
  message?: string;
  /** Sent as Retry-After (and details.retryAfterSeconds), as API Priority and Fairness does with 429. */
  retryAfterSeconds?: number;
}

const FAULT_REASONS: Record<number, string> = {
  400: "BadRequest",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

export interface ServerInfo {
  token: string;
  kubernetesVersion: string;
  clock: EmulatorClock;
  /** The address advertised in /api's serverAddressByClientCIDRs. */
  serverAddress: string;
  /** The cluster's name, for chaos counts per cluster. */
  clusterName?: string;
  /** The emulator's chaos mode, shared by all its clusters. */
  chaos?: KubeChaos;
  /** Emulator-wide counters that outlive a cluster (requests served, faults answered). */
  counters?: { requests: number; faultsInjected: number };
}

const BOOKMARK_INTERVAL_MS = 60_000;

function send(res: ServerResponse, status: number, body: unknown, pretty: boolean): void {
  const text = pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-cache, private",
  });
  res.end(text);
}

function sendStatus(res: ServerResponse, status: StatusBody): void {
  send(res, status.code, status, false);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseJson(text: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badRequest(`json: error decoding request body: ${(e as Error).message}`);
  }
}

function boolParam(q: URLSearchParams, name: string): boolean | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  return v === "true" || v === "1" || v === "";
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n))
    throw badRequest(`${name}: Invalid value: ${JSON.stringify(v)}: must be an integer`);
  return n;
}

/** What the API server takes as field manager when none is given: the user agent's program name. */
function managerFromUserAgent(ua: string | undefined): string {
  if (!ua) return "unknown";
  const first = ua.split("/")[0]?.trim();
  return first && first.length > 0 ? first.slice(0, 128) : "unknown";
}

interface Target {
  rt: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  /** Path after the subresource (pods/NAME/proxy/…). */
  rest: string;
  watchPrefix: boolean;
}

export class KubeHttpHandler {
  private readonly api: ClusterApi;
  private readonly hooks: ServerHooks;
  private readonly info: ServerInfo;
  private readonly watches = new Set<() => void>();
  private readonly faults = new Set<{ fault: ApiFault; left: number }>();
  readonly requests: Record<string, number> = {};

  constructor(api: ClusterApi, hooks: ServerHooks, info: ServerInfo) {
    this.api = api;
    this.hooks = hooks;
    this.info = info;
  }

  /** Ends every open watch (cluster going away). */
  closeWatches(): void {
    for (const end of [...this.watches]) end();
  }

  get openWatches(): number {
    return this.watches.size;
  }

  /** Fails matching requests as planned until the returned function is called (or the count runs out). */
  injectFault(fault: ApiFault): () => void {
    const entry = { fault, left: fault.count ?? Number.POSITIVE_INFINITY };
    this.faults.add(entry);
    return () => {
      this.faults.delete(entry);
    };
  }

  private plannedFault(method: string, path: string): ApiFault | undefined {
    for (const entry of this.faults) {
      const f = entry.fault;
      if (f.method !== undefined && f.method.toUpperCase() !== method) continue;
      if (f.path !== undefined && !f.path.test(path)) continue;
      entry.left -= 1;
      if (entry.left <= 0) this.faults.delete(entry);
      return f;
    }
    return undefined;
  }

  /** Draws chaos for a regular request; true when it answered the request with a drawn failure. */
  private async chaos(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    q: URLSearchParams,
  ): Promise<boolean> {
    const chaos = this.info.chaos;
    if (!chaos?.active) return false;
    if (isLongRunning(path, q)) {
      chaos.spare();
      return false;
    }
    const decision = chaos.decide(this.info.clusterName ?? "", method, path);
    if (!decision) return false;
    // Only a failure reads the body here: a request that is merely delayed is served normally afterwards.
    if (decision.delayMs > 0) await this.info.clock.sleep(decision.delayMs);
    const failure = decision.failure;
    if (!failure) return false;
    await readBody(req).catch(() => "");
    this.count("chaos");
    if (this.info.counters) this.info.counters.faultsInjected += 1;
    const text = JSON.stringify(failure.status);
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      "Content-Length": String(Buffer.byteLength(text)),
      "Cache-Control": "no-cache, private",
    };
    if (failure.retryAfterSeconds !== undefined) headers["Retry-After"] = String(failure.retryAfterSeconds);
    res.writeHead(failure.status.code, headers);
    res.end(text);
    return true;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    // Go's net/http stamps every response with the server's clock: here the emulated one.
    res.sendDate = false;
    res.setHeader("Date", new Date(this.info.clock.now()).toUTCString());
    this.dispatch(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof ApiError) sendStatus(res, e.status);
      else sendStatus(res, internalError((e as Error)?.message ?? String(e)).status);
    });
  }

  private count(verb: string): void {
    this.requests[verb] = (this.requests[verb] ?? 0) + 1;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://kube.local");
    const path = url.pathname.replace(/\/{2,}/g, "/");
    const q = url.searchParams;
    const pretty = boolParam(q, "pretty") === true;
    const method = (req.method ?? "GET").toUpperCase();

    if (path.startsWith("/_emulator/")) {
      const body = this.hooks.emulatorRoute(path, q);
      if (body === undefined) throw notFoundPath();
      send(res, 200, body, pretty);
      return;
    }
    if (path === "/healthz" || path === "/livez" || path === "/readyz") {
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("ok");
      return;
    }
    if (this.info.counters) this.info.counters.requests += 1;
    const fault = this.plannedFault(method, path);
    if (fault) {
      await readBody(req).catch(() => "");
      this.count("fault");
      if (this.info.counters) this.info.counters.faultsInjected += 1;
      const status: StatusBody = {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message:
          fault.message ??
          (fault.status === 429
            ? "Too many requests, please try again later."
            : `injected fault ${fault.status}`),
        reason: FAULT_REASONS[fault.status] ?? "Unknown",
        code: fault.status,
      };
      const headers: Record<string, string> = { "Content-Type": "application/json" };
      if (fault.retryAfterSeconds !== undefined) {
        status.details = { retryAfterSeconds: fault.retryAfterSeconds };
        headers["Retry-After"] = String(fault.retryAfterSeconds);
      }
      const text = JSON.stringify(status);
      res.writeHead(fault.status, { ...headers, "Content-Length": String(Buffer.byteLength(text)) });
      res.end(text);
      return;
    }
    const auth = req.headers.authorization ?? "";
    if (auth !== `Bearer ${this.info.token}`) {
      await readBody(req).catch(() => "");
      throw unauthorized();
    }
    // After authentication, as API Priority and Fairness sits behind the authentication filter:
    // a request with a bad token gets its 401, not a drawn 429.
    if (await this.chaos(req, res, method, path, q)) return;
    if (path === "/version" || path === "/version/") {
      const [major, minor] = this.info.kubernetesVersion.split(".");
      send(
        res,
        200,
        {
          major: major ?? "1",
          minor: minor ?? "0",
          gitVersion: `v${this.info.kubernetesVersion}`,
          gitCommit: "emulated",
          gitTreeState: "clean",
          buildDate: "2025-01-01T00:00:00Z",
          goVersion: "go1.24.4",
          compiler: "gc",
          platform: "linux/amd64",
        },
        pretty,
      );
      return;
    }
    if (path === "/api" || path === "/api/") {
      send(
        res,
        200,
        {
          kind: "APIVersions",
          versions: ["v1"],
          serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: this.info.serverAddress }],
        },
        pretty,
      );
      return;
    }
    if (path === "/apis" || path === "/apis/") {
      send(res, 200, this.groupList(), pretty);
      return;
    }
    const parts = path
      .split("/")
      .filter((p) => p !== "")
      .map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === "api") {
      group = "";
      version = parts[1] ?? "";
      rest = parts.slice(2);
    } else if (parts[0] === "apis") {
      group = parts[1] ?? "";
      version = parts[2] ?? "";
      rest = parts.slice(3);
      if (parts.length === 2) {
        const g = this.groupList().groups.find((x) => x.name === group);
        if (!g) throw notFoundPath();
        send(res, 200, { kind: "APIGroup", apiVersion: "v1", ...g }, pretty);
        return;
      }
    } else {
      throw notFoundPath();
    }
    const served = this.api.served().filter((r) => r.group === group && r.version === version);
    if (served.length === 0) throw notFoundPath();
    if (rest.length === 0) {
      send(res, 200, this.resourceList(group, version, served), pretty);
      return;
    }
    const target = this.resolve(group, version, rest, path);
    await this.serve(req, res, method, target, q, pretty);
  }

  private groupList() {
    const groups = apiGroups(this.api.served()).map((g) => {
      const versions = g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v }));
      return { name: g.name, versions, preferredVersion: versions[0] };
    });
    return { kind: "APIGroupList", apiVersion: "v1", groups };
  }

  private resourceList(group: string, version: string, served: ResourceType[]) {
    const resources: Record<string, unknown>[] = [];
    for (const r of served) {
      const entry: Record<string, unknown> = {
        name: r.resource,
        singularName: r.singularName,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: r.verbs,
      };
      if (r.shortNames) entry.shortNames = r.shortNames;
      if (r.categories) entry.categories = r.categories;
      resources.push(entry);
      for (const s of r.subresources) {
        const sub: Record<string, unknown> = {
          name: `${r.resource}/${s.name}`,
          singularName: "",
          namespaced: r.namespaced,
          kind: s.kind,
          verbs: s.verbs,
        };
        if (s.name === "scale") {
          sub.group = "autoscaling";
          sub.version = "v1";
        }
        resources.push(sub);
      }
    }
    return {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: group === "" ? version : `${group}/${version}`,
      resources,
    };
  }

  private resolve(group: string, version: string, segs: string[], path: string): Target {
    let watchPrefix = false;
    let s = segs;
    if (s[0] === "watch") {
      watchPrefix = true;
      s = s.slice(1);
    }
    const find = (resource: string) => {
      const rt = findResource(this.api.served(), group, version, resource);
      if (!rt) throw notFoundPath();
      return rt;
    };
    const restOf = (from: number) => {
      const idx = nthSegmentOffset(path, from + (group === "" ? 2 : 3) + (watchPrefix ? 1 : 0));
      return idx < 0 ? "" : path.slice(idx);
    };
    if (s[0] === "namespaces" && s.length >= 3 && s[2] !== "status" && s[2] !== "finalize") {
      const rt = find(s[2] ?? "");
      if (!rt.namespaced) throw notFoundPath();
      return {
        rt,
        namespace: s[1],
        name: s[3],
        subresource: s[4],
        rest: s.length > 5 ? restOf(5) : "",
        watchPrefix,
      };
    }
    const rt = find(s[0] ?? "");
    return {
      rt,
      namespace: undefined,
      name: s[1],
      subresource: s[2],
      rest: s.length > 3 ? restOf(3) : "",
      watchPrefix,
    };
  }

  private async serve(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    t: Target,
    q: URLSearchParams,
    pretty: boolean,
  ): Promise<void> {
    const { rt, namespace, name, subresource } = t;
    const fieldManager = q.get("fieldManager") ?? managerFromUserAgent(req.headers["user-agent"]);
    const dryRun = q.getAll("dryRun").includes("All");

    if (subresource !== undefined) {
      await this.serveSubresource(req, res, method, t, q, pretty, fieldManager, dryRun);
      return;
    }
    if (name === undefined) {
      if (method === "GET") {
        if (t.watchPrefix || boolParam(q, "watch") === true) {
          this.count("watch");
          this.serveWatch(req, res, rt, namespace, q);
          return;
        }
        this.count("list");
        const opts: { labelSelector?: string; fieldSelector?: string; limit?: number; continue?: string } =
          {};
        const ls = q.get("labelSelector");
        const fs = q.get("fieldSelector");
        const limit = intParam(q, "limit");
        const cont = q.get("continue");
        if (ls !== null) opts.labelSelector = ls;
        if (fs !== null) opts.fieldSelector = fs;
        if (limit !== undefined) opts.limit = limit;
        if (cont !== null && cont !== "") opts.continue = cont;
        send(res, 200, this.api.listBody(rt, this.api.list(rt, namespace, opts)), pretty);
        return;
      }
      if (method === "POST") {
        this.count("create");
        const body = parseJson(await readBody(req));
        const created = this.api.create(rt, namespace, body, { fieldManager, dryRun });
        send(res, 201, created, pretty);
        return;
      }
      if (method === "DELETE") {
        this.count("deletecollection");
        const opts = this.deleteOptions(parseJson(await readBody(req)), q, dryRun);
        const listOpts: { labelSelector?: string; fieldSelector?: string } = {};
        const ls = q.get("labelSelector");
        const fs = q.get("fieldSelector");
        if (ls !== null) listOpts.labelSelector = ls;
        if (fs !== null) listOpts.fieldSelector = fs;
        const items = this.api.deleteCollection(rt, namespace, listOpts, opts);
        send(
          res,
          200,
          this.api.listBody(rt, { items, resourceVersion: String(this.api.store.currentRevision) }),
          pretty,
        );
        return;
      }
      throw methodNotAllowed();
    }
    switch (method) {
      case "GET":
        this.count("get");
        send(res, 200, this.api.get(rt, namespace, name), pretty);
        return;
      case "PUT": {
        this.count("update");
        const body = parseJson(await readBody(req));
        send(res, 200, this.api.update(rt, namespace, name, body, { fieldManager, dryRun }), pretty);
        return;
      }
      case "PATCH": {
        this.count("patch");
        const raw = await readBody(req);
        const force = boolParam(q, "force");
        const opts: { fieldManager?: string; dryRun: boolean; force?: boolean } = { dryRun };
        const explicitManager = q.get("fieldManager");
        const ct = String(req.headers["content-type"] ?? "");
        // Apply needs an explicit manager; other patches fall back to the user agent's.
        if (explicitManager !== null) opts.fieldManager = explicitManager;
        else if (!ct.startsWith("application/apply-patch")) opts.fieldManager = fieldManager;
        if (force !== undefined) opts.force = force;
        const before = this.api.tryGet(rt, namespace, name);
        const out = this.api.patch(rt, namespace, name, ct, raw, opts);
        send(res, before === undefined ? 201 : 200, out, pretty);
        return;
      }
      case "DELETE": {
        this.count("delete");
        const opts = this.deleteOptions(parseJson(await readBody(req)), q, dryRun);
        const result = this.api.delete(rt, namespace, name, opts);
        send(res, 200, result.body, pretty);
        return;
      }
      default:
        throw methodNotAllowed();
    }
  }

  private deleteOptions(body: unknown, q: URLSearchParams, dryRun: boolean): DeleteOptions {
    const b = isPlainObject(body) ? body : {};
    const opts: DeleteOptions = {};
    const policy =
      q.get("propagationPolicy") ?? (typeof b.propagationPolicy === "string" ? b.propagationPolicy : null);
    if (policy !== null) {
      if (policy !== "Background" && policy !== "Foreground" && policy !== "Orphan") {
        throw badRequest(
          `propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`,
        );
      }
      opts.propagationPolicy = policy;
    }
    const grace =
      intParam(q, "gracePeriodSeconds") ??
      (typeof b.gracePeriodSeconds === "number" ? b.gracePeriodSeconds : undefined);
    if (grace !== undefined) opts.gracePeriodSeconds = grace;
    const orphan =
      boolParam(q, "orphanDependents") ??
      (typeof b.orphanDependents === "boolean" ? b.orphanDependents : undefined);
    if (orphan !== undefined) opts.orphanDependents = orphan;
    if (isPlainObject(b.preconditions)) {
      const pre: { uid?: string; resourceVersion?: string } = {};
      if (typeof b.preconditions.uid === "string") pre.uid = b.preconditions.uid;
      if (typeof b.preconditions.resourceVersion === "string")
        pre.resourceVersion = b.preconditions.resourceVersion;
      opts.preconditions = pre;
    }
    const bodyDry = Array.isArray(b.dryRun) && b.dryRun.includes("All");
    if (dryRun || bodyDry) opts.dryRun = true;
    return opts;
  }

  private async serveSubresource(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    t: Target,
    q: URLSearchParams,
    pretty: boolean,
    fieldManager: string,
    dryRun: boolean,
  ): Promise<void> {
    const { rt, namespace, subresource } = t;
    const name = t.name ?? "";
    const known = rt.subresources.find((s) => s.name === subresource);
    if (!known) throw notFoundPath();
    if (subresource === "proxy") {
      this.count("proxy");
      await readBody(req);
      if (rt.kind !== "Pod") throw notFoundPath();
      const out = this.hooks.podProxy(namespace ?? "", name, t.rest === "" ? "/" : t.rest, method);
      res.writeHead(out.status, { "Content-Type": "application/json", ...(out.headers ?? {}) });
      res.end(out.body);
      return;
    }
    if (subresource === "log") {
      this.count("log");
      this.api.get(rt, namespace, name);
      const text = this.hooks.podLog(namespace ?? "", name, q.get("container") ?? undefined);
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end(text);
      return;
    }
    if (subresource === "token") {
      this.count("token");
      this.api.get(rt, namespace, name);
      const body = parseJson(await readBody(req));
      send(res, 201, await this.hooks.tokenRequest(namespace ?? "", name, body), pretty);
      return;
    }
    if (subresource === "scale") {
      this.count(`scale-${method.toLowerCase()}`);
      await this.serveScale(req, res, method, rt, namespace, name, pretty, fieldManager, dryRun);
      return;
    }
    // status and finalize
    const sub = subresource === "finalize" ? "" : "status";
    switch (method) {
      case "GET":
        this.count("get");
        send(res, 200, this.api.get(rt, namespace, name), pretty);
        return;
      case "PUT": {
        this.count("update");
        const body = parseJson(await readBody(req));
        if (subresource === "finalize") {
          send(res, 200, this.finalizeNamespace(name, body, fieldManager), pretty);
          return;
        }
        send(
          res,
          200,
          this.api.update(rt, namespace, name, body, { fieldManager, dryRun, subresource: sub }),
          pretty,
        );
        return;
      }
      case "PATCH": {
        this.count("patch");
        const raw = await readBody(req);
        const force = boolParam(q, "force");
        const opts: { fieldManager?: string; dryRun: boolean; subresource: string; force?: boolean } = {
          dryRun,
          subresource: sub,
        };
        const explicitManager = q.get("fieldManager");
        const ct = String(req.headers["content-type"] ?? "");
        if (explicitManager !== null) opts.fieldManager = explicitManager;
        else if (!ct.startsWith("application/apply-patch")) opts.fieldManager = fieldManager;
        if (force !== undefined) opts.force = force;
        send(res, 200, this.api.patch(rt, namespace, name, ct, raw, opts), pretty);
        return;
      }
      default:
        throw methodNotAllowed();
    }
  }

  private finalizeNamespace(name: string, body: unknown, fieldManager: string): KubeObject {
    const rt = this.api.type("", "namespaces");
    const finalizers =
      isPlainObject(body) && isPlainObject(body.spec) && Array.isArray(body.spec.finalizers)
        ? (body.spec.finalizers as string[])
        : [];
    const out = this.api.mutate(
      rt,
      undefined,
      name,
      (o) => {
        o.spec = { ...(isPlainObject(o.spec) ? o.spec : {}), finalizers };
        return true;
      },
      { fieldManager },
    );
    return out ?? this.api.get(rt, undefined, name);
  }

  private scaleOf(o: KubeObject): KubeObject {
    const w = o as Deployment | ReplicaSet;
    return {
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: {
        name: o.metadata.name ?? "",
        namespace: o.metadata.namespace ?? "",
        uid: o.metadata.uid ?? "",
        resourceVersion: o.metadata.resourceVersion ?? "",
        creationTimestamp: o.metadata.creationTimestamp ?? "",
      },
      spec: { replicas: w.spec?.replicas ?? 0 },
      status: { replicas: w.status?.replicas ?? 0, selector: selectorString(w.spec?.selector) },
    };
  }

  private async serveScale(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    pretty: boolean,
    fieldManager: string,
    dryRun: boolean,
  ): Promise<void> {
    if (method === "GET") {
      send(res, 200, this.scaleOf(this.api.get(rt, namespace, name)), pretty);
      return;
    }
    if (method !== "PUT" && method !== "PATCH") throw methodNotAllowed();
    const raw = await readBody(req);
    let replicas: number | undefined;
    if (method === "PUT") {
      const b = parseJson(raw);
      const spec = isPlainObject(b) && isPlainObject(b.spec) ? b.spec : {};
      replicas = typeof spec.replicas === "number" ? spec.replicas : undefined;
    } else {
      const current = this.scaleOf(this.api.get(rt, namespace, name));
      const ct = String(req.headers["content-type"] ?? "");
      const patched = this.api.patchPlain(current, ct, raw);
      const spec = isPlainObject(patched) && isPlainObject(patched.spec) ? patched.spec : {};
      replicas = typeof spec.replicas === "number" ? spec.replicas : undefined;
    }
    if (replicas === undefined) throw badRequest("spec.replicas is required");
    const count = replicas;
    const out = this.api.mutate(
      rt,
      namespace,
      name,
      (o) => {
        (o.spec as { replicas?: number }).replicas = count;
        return true;
      },
      { fieldManager, dryRun },
    );
    send(res, 200, this.scaleOf(out ?? this.api.get(rt, namespace, name)), pretty);
  }

  private serveWatch(
    req: IncomingMessage,
    res: ServerResponse,
    rt: ResourceType,
    namespace: string | undefined,
    q: URLSearchParams,
  ): void {
    const clock = this.info.clock;
    const opts: {
      labelSelector?: string;
      fieldSelector?: string;
      resourceVersion?: string;
      allowWatchBookmarks?: boolean;
      sendInitialEvents?: boolean;
    } = {};
    for (const k of ["labelSelector", "fieldSelector", "resourceVersion"] as const) {
      const v = q.get(k);
      if (v !== null) opts[k] = v;
    }
    const bookmarks = boolParam(q, "allowWatchBookmarks") === true;
    opts.allowWatchBookmarks = bookmarks;
    if (boolParam(q, "sendInitialEvents") === true) opts.sendInitialEvents = true;
    const timeoutSeconds = intParam(q, "timeoutSeconds");

    let ended = false;
    const pending: string[] = [];
    let started = false;
    const write = (type: string, object: unknown) => {
      if (ended) return;
      const line =
        object instanceof RawJson
          ? `{"type":${JSON.stringify(type)},"object":${object.raw}}\n`
          : `${JSON.stringify({ type, object })}\n`;
      if (!started) pending.push(line);
      else res.write(line);
    };
    // Selector errors surface as a plain 400 before the stream starts.
    let handle: WatchHandle;
    try {
      handle = this.api.watch(rt, namespace, opts, write);
    } catch (e) {
      if (e instanceof ApiError) {
        sendStatus(res, e.status);
        return;
      }
      throw e;
    }
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" });
    res.flushHeaders();
    started = true;
    for (const line of pending) res.write(line);
    pending.length = 0;
    let cancelTimeout: () => void = () => {};
    let cancelBookmark: () => void = () => {};
    const end = () => {
      if (ended) return;
      ended = true;
      handle.close();
      cancelTimeout();
      cancelBookmark();
      this.watches.delete(end);
      res.end();
    };
    this.watches.add(end);
    if (handle.expired) {
      end();
      return;
    }
    req.on("close", end);
    res.on("close", end);
    const bookmark = () => {
      write("BOOKMARK", {
        kind: rt.kind,
        apiVersion: apiVersionOf(rt),
        metadata: { resourceVersion: String(this.api.store.currentRevision) },
      });
    };
    // The API server ends watches after timeoutSeconds, or a random 30 to 60 minutes when none is asked for.
    const timeoutMs =
      timeoutSeconds !== undefined && timeoutSeconds > 0
        ? timeoutSeconds * 1000
        : (1800 + Math.floor(Math.random() * 1800)) * 1000;
    cancelTimeout = clock.schedule(timeoutMs, () => {
      if (bookmarks) bookmark();
      end();
    });
    if (bookmarks) {
      // At least one real second between bookmarks, so a high time scale cannot flood the wire.
      const every = Math.max(BOOKMARK_INTERVAL_MS, clock.scale * 1000);
      const tick = () => {
        if (ended) return;
        bookmark();
        cancelBookmark = clock.schedule(every, tick);
      };
      cancelBookmark = clock.schedule(every, tick);
    }
  }
}

/** Character offset of path segment `n` (0-based, counting non-empty segments). */
function nthSegmentOffset(path: string, n: number): number {
  let count = -1;
  for (let i = 0; i < path.length; i++) {
    if (path[i] === "/" && i + 1 < path.length && path[i + 1] !== "/") {
      count++;
      if (count === n) return i;
    }
  }
  return -1;
}
