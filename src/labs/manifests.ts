import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "../ports/cluster.ts";

/**
 * The manifests in infra/lab, rendered with a lab's values. A placeholder
 * without a value is an error, never an empty string in the cluster.
 */

export type LabManifest = "reloader" | "workload";

function manifestDir(): string {
  // src/labs when run from source, dist/src/labs when compiled: infra/ is two or three levels up.
  for (const up of ["../../infra/lab/", "../../../infra/lab/"]) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(dir)) return dir;
  }
  throw new Error("infra/lab manifests not found next to the code; the image must ship infra/lab");
}

const cache = new Map<LabManifest, string>();

function template(name: LabManifest): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(`${manifestDir()}${name}.yaml`, "utf8");
    cache.set(name, text);
  }
  return text;
}

export function placeholders(name: LabManifest): string[] {
  const found = new Set<string>();
  for (const m of template(name).matchAll(/\$\{([A-Z_]+)\}/g)) if (m[1]) found.add(m[1]);
  return [...found].sort();
}

export function renderLabManifests(
  name: LabManifest,
  values: Readonly<Record<string, string>>,
): KubeObject[] {
  const missing = placeholders(name).filter((p) => values[p] === undefined || values[p] === "");
  if (missing.length > 0) throw new Error(`infra/lab/${name}.yaml needs values for ${missing.join(", ")}`);
  const text = template(name).replace(/\$\{([A-Z_]+)\}/g, (_, key: string) => values[key] ?? "");
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null && typeof o === "object");
}
