import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";

/**
 * Just enough of kustomize to render infra/deploy/kubernetes without a
 * kustomize binary: resources (files and kustomization directories),
 * strategic-merge patches by kind and name, images, replicas and namespace.
 * Any other kustomization field is refused, so a manifest that starts using
 * one fails the tests instead of being rendered wrong.
 */

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  patches?: Array<{ path?: string; patch?: string; target?: unknown }>;
  images?: Array<{ name: string; newName?: string; newTag?: string; digest?: string }>;
  replicas?: Array<{ name: string; count: number }>;
}

const SUPPORTED = new Set(["apiVersion", "kind", "namespace", "resources", "patches", "images", "replicas"]);
const CLUSTER_SCOPED = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
]);

export function readYamlObjects(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, "utf8"))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      return doc.toJS() as KubeObject | null;
    })
    .filter((o): o is KubeObject => o !== null && typeof o === "object");
}

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function named(list: Json[]): list is Array<{ name: string } & Record<string, Json>> {
  return list.every((item) => isObject(item) && typeof item.name === "string");
}

/**
 * Strategic merge as kustomize applies it to the lists used here: maps merge
 * key by key, lists of named items (containers, env, volumes) merge by name,
 * other lists are replaced, null deletes.
 */
export function strategicMerge(base: Json | undefined, patch: Json): Json {
  if (isObject(base) && isObject(patch)) {
    const out: Record<string, Json> = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete out[key];
      else out[key] = strategicMerge(base[key], value);
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch) && named(base) && named(patch)) {
    const out = base.map((item) => {
      const p = patch.find((q) => q.name === item.name);
      return p ? strategicMerge(item, p) : item;
    });
    for (const p of patch) if (!base.some((item) => item.name === p.name)) out.push(p);
    return out;
  }
  return structuredClone(patch);
}

function imageName(image: string): { name: string; rest: string } {
  const at = image.indexOf("@");
  const colon = image.lastIndexOf(":");
  const cut = at >= 0 ? at : colon > image.lastIndexOf("/") ? colon : -1;
  return cut >= 0 ? { name: image.slice(0, cut), rest: image.slice(cut) } : { name: image, rest: "" };
}

function setImages(object: KubeObject, images: NonNullable<Kustomization["images"]>): void {
  const spec = (object.spec as { template?: { spec?: Record<string, unknown> } } | undefined)?.template?.spec;
  if (!spec) return;
  for (const field of ["containers", "initContainers"]) {
    const containers = spec[field] as Array<{ image?: string }> | undefined;
    for (const c of containers ?? []) {
      if (c.image === undefined) continue;
      const { name, rest } = imageName(c.image);
      const rule = images.find((i) => i.name === name);
      if (!rule) continue;
      const suffix = rule.digest ? `@${rule.digest}` : rule.newTag ? `:${rule.newTag}` : rest;
      c.image = `${rule.newName ?? name}${suffix}`;
    }
  }
}

/** Renders a kustomization directory to its list of objects, the way `kustomize build` would. */
export function renderKustomization(dir: string): KubeObject[] {
  const kustomization = readYamlObjects(join(dir, "kustomization.yaml"))[0] as unknown as Kustomization;
  const unsupported = Object.keys(kustomization).filter((k) => !SUPPORTED.has(k));
  if (unsupported.length > 0) {
    throw new Error(
      `${dir}/kustomization.yaml uses ${unsupported.join(", ")}: teach test/helpers/kustomize.ts`,
    );
  }
  let objects: KubeObject[] = [];
  for (const entry of kustomization.resources ?? []) {
    const path = resolve(dir, entry);
    if (!existsSync(path)) throw new Error(`${dir}: resource ${entry} does not exist`);
    objects.push(...(statSync(path).isDirectory() ? renderKustomization(path) : readYamlObjects(path)));
  }

  for (const p of kustomization.patches ?? []) {
    if (p.target !== undefined || p.path === undefined) {
      throw new Error(`${dir}: only strategic-merge patches by path are supported`);
    }
    for (const patch of readYamlObjects(join(dir, p.path))) {
      const i = objects.findIndex((o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name);
      if (i < 0) throw new Error(`${dir}/${p.path}: no ${patch.kind} ${patch.metadata.name} to patch`);
      objects[i] = strategicMerge(
        objects[i] as unknown as Json,
        patch as unknown as Json,
      ) as unknown as KubeObject;
    }
  }

  for (const r of kustomization.replicas ?? []) {
    const target = objects.find((o) => o.kind === "Deployment" && o.metadata.name === r.name);
    if (!target) throw new Error(`${dir}: replicas for unknown Deployment ${r.name}`);
    (target.spec as { replicas?: number }).replicas = r.count;
  }
  if (kustomization.images) for (const o of objects) setImages(o, kustomization.images);
  if (kustomization.namespace) {
    const ns = kustomization.namespace;
    objects = objects.map((o) =>
      CLUSTER_SCOPED.has(o.kind) ? o : { ...o, metadata: { ...o.metadata, namespace: ns } },
    );
  }
  return objects;
}

/** Every kustomization directory under `dir` (base and overlays). */
export function kustomizationDirs(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    if (existsSync(join(d, "kustomization.yaml"))) found.push(d);
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(d, entry.name));
    }
  };
  walk(dir);
  return found.sort();
}
