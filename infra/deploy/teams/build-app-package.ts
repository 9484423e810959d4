import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { zip } from "./zip.ts";

/**
 * `npm run teams:package`: the Teams app package (manifest.json and the two
 * icons at the root of a zip) for upload in Teams or the Teams admin center.
 *
 *   npm run teams:package -- --app-id <bot app id> --public-url https://labops.example.com [--out dist/teams-app.zip]
 *
 * --app-id defaults to MICROSOFT_APP_ID and --public-url to LABOPS_PUBLIC_URL.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../../..");
const GUID = /^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/;

export const PACKAGE_FILES = ["manifest.json", "color.png", "outline.png"] as const;

export interface TeamsPackageOptions {
  /** The Azure Bot's Microsoft App ID (MICROSOFT_APP_ID): the bot id and the app id. */
  appId: string;
  /** https URL of the bot's public host, shown as the developer's site. */
  publicUrl: string;
  /** The app version; defaults to package.json's. */
  version?: string;
  /** Where manifest.json and the icons are; defaults to this directory. */
  dir?: string;
}

export class TeamsPackageError extends Error {
  readonly code = "TEAMS_PACKAGE";
}

/** Fills every ${NAME} in the manifest template; a placeholder without a value is an error. */
export function renderTeamsManifest(template: string, values: Readonly<Record<string, string>>): string {
  const missing = new Set<string>();
  const text = template.replace(/\$\{([A-Z_]+)\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) {
      missing.add(name);
      return whole;
    }
    // Values land inside JSON strings.
    return JSON.stringify(value).slice(1, -1);
  });
  if (missing.size > 0)
    throw new TeamsPackageError(`manifest.json needs values for ${[...missing].join(", ")}`);
  JSON.parse(text);
  return text;
}

export function buildTeamsAppPackage(options: TeamsPackageOptions): Buffer {
  const dir = options.dir ?? HERE;
  if (!GUID.test(options.appId)) {
    throw new TeamsPackageError(
      `the app id "${options.appId.slice(0, 60)}" is not a GUID: use the Azure Bot's Microsoft App ID (Bicep output teamsClientId, or your app registration's client id).`,
    );
  }
  if (!URL.canParse(options.publicUrl) || new URL(options.publicUrl).protocol !== "https:") {
    throw new TeamsPackageError(
      `the public URL "${options.publicUrl.slice(0, 80)}" is not an https URL: use the bot's public base URL, such as https://labops.example.com.`,
    );
  }
  const version =
    options.version ??
    (JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")) as { version: string }).version;
  const manifest = renderTeamsManifest(readFileSync(resolve(dir, "manifest.json"), "utf8"), {
    MICROSOFT_APP_ID: options.appId.toLowerCase(),
    LABOPS_PUBLIC_URL: options.publicUrl.replace(/\/+$/, ""),
    LABOPS_VERSION: version,
  });
  return zip([
    { name: "manifest.json", data: Buffer.from(manifest, "utf8") },
    { name: "color.png", data: readFileSync(resolve(dir, "color.png")) },
    { name: "outline.png", data: readFileSync(resolve(dir, "outline.png")) },
  ]);
}

function main(argv: string[], env: NodeJS.ProcessEnv): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      "app-id": { type: "string" },
      "public-url": { type: "string" },
      out: { type: "string" },
    },
  });
  const appId = values["app-id"] ?? env.MICROSOFT_APP_ID;
  const publicUrl = values["public-url"] ?? env.LABOPS_PUBLIC_URL;
  if (!appId || !publicUrl) {
    throw new TeamsPackageError(
      "set the bot's app id and public URL: npm run teams:package -- --app-id <GUID> --public-url https://labops.example.com (or MICROSOFT_APP_ID and LABOPS_PUBLIC_URL).",
    );
  }
  const out = resolve(values.out ?? resolve(ROOT, "dist/teams-app.zip"));
  const bytes = buildTeamsAppPackage({ appId, publicUrl });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, bytes);
  process.stdout.write(`wrote ${out} (${bytes.length} bytes): upload it in Teams, Apps > Manage your apps\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2), process.env);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`teams:package: ${message}\n`);
    process.exit(2);
  }
}
