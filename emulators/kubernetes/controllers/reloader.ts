import { createHash } from "node:crypto";
import type { ClusterApi } from "../api.ts";
import type { StoreEvent } from "../store.ts";
import type { ConfigMap, Container, Deployment, KubeObject, Secret } from "../types.ts";
import type { EventRecorder } from "./events.ts";

/**
 * Stakater Reloader (internal/pkg/handler), active only while a Reloader
 * deployment (image stakater/reloader) is Available in the cluster. When the
 * data of a Secret or ConfigMap changes (SHA-1 over sorted `key=value`
 * pairs), every Deployment in its namespace that asks for it is rolled:
 * `reloader.stakater.com/auto: "true"` (when a container uses the resource
 * through env, envFrom or a volume), the typed auto annotation, or the
 * explicit `secret.reloader.stakater.com/reload` / `configmap.…/reload`
 * lists (regular expressions). The strategy comes from the Reloader
 * container's `--reload-strategy` argument: `annotations` patches the pod
 * template with `reloader.stakater.com/last-reloaded-from`, the default
 * `env-vars` sets `STAKATER_<NAME>_SECRET` to the hash. Patches are strategic
 * merge patches by field manager "Reloader", followed by a `Reloaded` event.
 */

const AUTO = "reloader.stakater.com/auto";
const SEARCH = "reloader.stakater.com/search";
const MATCH = "reloader.stakater.com/match";
const IGNORE = "reloader.stakater.com/ignore";
const LAST_RELOADED_FROM = "reloader.stakater.com/last-reloaded-from";

interface ReloaderOptions {
  strategy: "annotations" | "env-vars";
  autoReloadAll: boolean;
  reloadOnCreate: boolean;
  namespacesToIgnore: string[];
  resourcesToIgnore: string[];
}

interface ResourceConfig {
  type: "SECRET" | "CONFIGMAP";
  name: string;
  namespace: string;
  annotations: Record<string, string>;
  sha: string;
  reloadAnnotation: string;
  typedAutoAnnotation: string;
  excludeAnnotation: string;
}

/** SHA-1 over sorted `key=value` joined by ";" (util.GetSHAfromSecret / GetSHAfromConfigmap). */
export function reloaderHash(values: string[]): string {
  return createHash("sha1")
    .update([...values].sort().join(";"))
    .digest("hex");
}

function secretSha(s: Secret): string {
  return reloaderHash(
    Object.entries(s.data ?? {}).map(([k, v]) => `${k}=${Buffer.from(v, "base64").toString("utf8")}`),
  );
}

function configMapSha(c: ConfigMap): string {
  return reloaderHash([
    ...Object.entries(c.data ?? {}).map(([k, v]) => `${k}=${v}`),
    ...Object.entries(c.binaryData ?? {}).map(([k, v]) => `${k}=${v}`),
  ]);
}

/** util.ConvertToEnvVarName. */
export function envVarName(text: string): string {
  let out = "";
  let lastValid = false;
  for (const ch of text.toUpperCase()) {
    if ((ch >= "A" && ch <= "Z") || (ch >= "0" && ch <= "9")) {
      out += ch;
      lastValid = true;
    } else {
      if (lastValid) out += "_";
      lastValid = false;
    }
  }
  return out;
}

function flagValue(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (a === `--${name}` || a === `-${name}`) {
      const next = args[i + 1];
      return next === undefined || next.startsWith("-") ? "true" : next;
    }
    const prefix = a.startsWith(`--${name}=`)
      ? `--${name}=`
      : a.startsWith(`-${name}=`)
        ? `-${name}=`
        : undefined;
    if (prefix) return a.slice(prefix.length);
  }
  return undefined;
}

export class ReloaderController {
  private readonly api: ClusterApi;
  private readonly events: EventRecorder;
  private readonly unsubscribe: () => void;
  /** Deployments rolled, for the inventory. */
  reloads = 0;

  constructor(api: ClusterApi, events: EventRecorder) {
    this.api = api;
    this.events = events;
    this.unsubscribe = api.store.onChange((e) => this.onChange(e));
  }

  stop(): void {
    this.unsubscribe();
  }

  /** The options of an Available Reloader deployment, or undefined when none runs. */
  activeOptions(): ReloaderOptions | undefined {
    for (const o of this.api.store.list("apps/deployments")) {
      const d = o as Deployment;
      const container = d.spec?.template?.spec?.containers?.find((c) =>
        /(^|\/)stakater\/reloader(:|@|$)/.test(c.image ?? ""),
      );
      if (!container) continue;
      const available = d.status?.conditions?.find((c) => c.type === "Available")?.status === "True";
      if (!available || (d.status?.availableReplicas ?? 0) < 1) continue;
      // A Reloader whose pods are all gone (deployment deleted, scaled to zero) reloads nothing.
      const args = [...(container.command ?? []), ...(container.args ?? [])];
      const strategy = flagValue(args, "reload-strategy") === "annotations" ? "annotations" : "env-vars";
      const list = (name: string) =>
        (flagValue(args, name) ?? "")
          .split(",")
          .map((x) => x.trim())
          .filter((x) => x !== "");
      return {
        strategy,
        autoReloadAll: flagValue(args, "auto-reload-all") === "true",
        reloadOnCreate: flagValue(args, "reload-on-create") === "true",
        namespacesToIgnore: list("namespaces-to-ignore"),
        resourcesToIgnore: list("resources-to-ignore").map((x) => x.toLowerCase()),
      };
    }
    return undefined;
  }

  private onChange(e: StoreEvent): void {
    if (e.storageKey !== "core/secrets" && e.storageKey !== "core/configmaps") return;
    if (e.type === "DELETED") return;
    const opts = this.activeOptions();
    if (!opts) return;
    const isSecret = e.storageKey === "core/secrets";
    if (opts.resourcesToIgnore.includes(isSecret ? "secrets" : "configmaps")) return;
    const ns = e.object.metadata.namespace ?? "";
    if (opts.namespacesToIgnore.includes(ns)) return;
    const sha = isSecret ? secretSha(e.object as Secret) : configMapSha(e.object as ConfigMap);
    if (e.type === "MODIFIED") {
      const before = e.prev
        ? isSecret
          ? secretSha(e.prev as Secret)
          : configMapSha(e.prev as ConfigMap)
        : "";
      if (before === sha) return;
    } else if (!opts.reloadOnCreate) {
      return;
    }
    const config: ResourceConfig = {
      type: isSecret ? "SECRET" : "CONFIGMAP",
      name: e.object.metadata.name ?? "",
      namespace: ns,
      annotations: e.object.metadata.annotations ?? {},
      sha,
      reloadAnnotation: isSecret
        ? "secret.reloader.stakater.com/reload"
        : "configmap.reloader.stakater.com/reload",
      typedAutoAnnotation: isSecret
        ? "secret.reloader.stakater.com/auto"
        : "configmap.reloader.stakater.com/auto",
      excludeAnnotation: isSecret
        ? "secrets.exclude.reloader.stakater.com/reload"
        : "configmaps.exclude.reloader.stakater.com/reload",
    };
    // The informer hands the change to a worker; the rollout follows within moments.
    this.api.clock.schedule(0, () => this.rollAll(config, opts));
  }

  private rollAll(config: ResourceConfig, opts: ReloaderOptions): void {
    if (config.annotations[IGNORE] === "true") return;
    for (const o of this.api.store.list("apps/deployments", config.namespace)) {
      const d = o as Deployment;
      const decision = this.shouldReload(config, d, opts);
      if (!decision.reload) continue;
      const container = this.containerUsing(d, config, decision.auto);
      if (!container) continue;
      if (this.apply(d, container, config, opts)) {
        this.reloads++;
        const latest = this.api.store.get("apps/deployments", config.namespace, d.metadata.name ?? "") ?? d;
        this.events.record(
          latest,
          "Normal",
          "Reloaded",
          `Changes detected in '${config.name}' of type '${config.type}' in namespace '${config.namespace}', Updated '${d.metadata.name ?? ""}' of type 'Deployment' in namespace '${config.namespace}'`,
          { component: `reloader-${config.type === "SECRET" ? "secrets" : "configMaps"}` },
        );
      }
    }
  }

  private shouldReload(
    config: ResourceConfig,
    d: Deployment,
    opts: ReloaderOptions,
  ): { reload: boolean; auto: boolean } {
    let annotations: Record<string, string> = d.metadata.annotations ?? {};
    const has = (k: string) => Object.hasOwn(annotations, k);
    const exclude = annotations[config.excludeAnnotation];
    if (!has(config.reloadAnnotation) && !has(AUTO) && !has(config.typedAutoAnnotation) && !has(SEARCH)) {
      annotations = d.spec?.template?.metadata?.annotations ?? {};
    }
    if (exclude?.split(",").some((x) => x.trim() === config.name)) return { reload: false, auto: false };
    const list = annotations[config.reloadAnnotation] ?? "";
    for (const raw of list.split(",")) {
      const v = raw.trim();
      let re: RegExp;
      try {
        re = new RegExp(`^${v}$`);
      } catch {
        continue;
      }
      if (re.test(config.name)) return { reload: true, auto: false };
    }
    if (annotations[SEARCH] === "true" && config.annotations[MATCH] === "true")
      return { reload: true, auto: true };
    const auto = annotations[AUTO];
    const typed = annotations[config.typedAutoAnnotation];
    if (
      auto === "true" ||
      typed === "true" ||
      (auto === undefined && typed === undefined && opts.autoReloadAll)
    ) {
      return { reload: true, auto: true };
    }
    return { reload: false, auto: false };
  }

  /** getContainerUsingResource: the container mounting or referencing the resource. */
  private containerUsing(d: Deployment, config: ResourceConfig, auto: boolean): Container | undefined {
    const spec = d.spec?.template?.spec;
    if (!spec) return undefined;
    const containers = spec.containers ?? [];
    const isSecret = config.type === "SECRET";
    const volume = (spec.volumes ?? []).find((v) => {
      if (isSecret && v.secret?.secretName === config.name) return true;
      if (!isSecret && v.configMap?.name === config.name) return true;
      const sources = (v.projected?.sources ?? []) as {
        secret?: { name?: string };
        configMap?: { name?: string };
      }[];
      return sources.some((s) => (isSecret ? s.secret?.name : s.configMap?.name) === config.name);
    });
    if (volume) {
      const c = containers.find((x) => (x.volumeMounts ?? []).some((m) => m.name === volume.name));
      if (c) return c;
      const init = (spec.initContainers ?? []).find((x) =>
        (x.volumeMounts ?? []).some((m) => m.name === volume.name),
      );
      if (init) return containers[0];
    }
    const refs = (c: Container) =>
      (c.env ?? []).some((e) =>
        isSecret
          ? e.valueFrom?.secretKeyRef?.name === config.name
          : e.valueFrom?.configMapKeyRef?.name === config.name,
      ) ||
      (c.envFrom ?? []).some((f) => (isSecret ? f.secretRef?.name : f.configMapRef?.name) === config.name);
    const c = containers.find(refs);
    if (c) return c;
    if ((spec.initContainers ?? []).some(refs)) return containers[0];
    return auto ? undefined : containers[0];
  }

  private apply(d: Deployment, container: Container, config: ResourceConfig, opts: ReloaderOptions): boolean {
    const rt = this.api.type("apps", "deployments");
    const ns = config.namespace;
    const name = d.metadata.name ?? "";
    let patch: unknown;
    if (opts.strategy === "annotations") {
      const source = {
        type: config.type,
        name: config.name,
        namespace: config.namespace,
        hash: config.sha,
        containerRefs: [container.name],
        observedAt: Math.floor(this.api.clock.now() / 1000),
      };
      patch = {
        spec: { template: { metadata: { annotations: { [LAST_RELOADED_FROM]: JSON.stringify(source) } } } },
      };
    } else {
      const envName = `STAKATER_${envVarName(config.name)}_${config.type}`;
      const existing = (container.env ?? []).find((e) => e.name === envName);
      if (existing?.value === config.sha) return false;
      patch = {
        spec: {
          template: {
            spec: { containers: [{ name: container.name, env: [{ name: envName, value: config.sha }] }] },
          },
        },
      };
    }
    try {
      this.api.patch(rt, ns, name, "application/strategic-merge-patch+json", JSON.stringify(patch), {
        fieldManager: "Reloader",
      });
      return true;
    } catch (e) {
      this.events.record(
        d as KubeObject,
        "Warning",
        "ReloadFail",
        `Update for '${name}' of type 'Deployment' in namespace '${ns}' failed with error ${(e as Error).message}`,
        { component: `reloader-${config.type === "SECRET" ? "secrets" : "configMaps"}` },
      );
      return false;
    }
  }
}
