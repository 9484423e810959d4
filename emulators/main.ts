import { rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { computeFromFlags } from "./azure/compute.ts";
import { startEmulatedCloud } from "./world.ts";

/**
 * `npm run emulators -- --env-out PATH [--time-scale N] [--quota NAME=N]… [--restrict-size SIZE]…`:
 * starts the emulated
 * Azure and AKS on loopback, writes the env
 * lines that point `npm start` at them, and runs until SIGTERM or SIGINT.
 * The flag is --env-out, not --env-file: Node reads --env-file itself even
 * after the script name and would stop before this runs.
 */

const USAGE =
  "usage: npm run emulators -- --env-out PATH [--time-scale N] [--port N] [--seed N] [--quota NAME=N]… [--restrict-size SIZE]…\n" +
  "  --quota NAME=N        a compute quota by Azure usage name (cores, standardBSFamily, …); repeatable.\n" +
  "                        Unset ones are a new pay-as-you-go subscription's (cores=10, standardBSFamily=10, …)\n" +
  "  --restrict-size SIZE  a VM size the subscription may not use (NotAvailableForSubscription); repeatable";

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function positiveNumber(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!(value > 0) || !Number.isFinite(value)) fail(`${name} must be a positive number, got '${raw}'`);
  return value;
}

let args: ReturnType<typeof parseCli>;
function parseCli() {
  return parseArgs({
    options: {
      "env-out": { type: "string" },
      "time-scale": { type: "string" },
      port: { type: "string" },
      seed: { type: "string" },
      quota: { type: "string", multiple: true },
      "restrict-size": { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
}
try {
  args = parseCli();
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (args.values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const envOut = args.values["env-out"];
if (!envOut) fail("--env-out is required: the file to write the env lines to");
const timeScale =
  positiveNumber("--time-scale", args.values["time-scale"] ?? process.env.LABOPS_TIME_SCALE) ?? 1;
const port = positiveNumber("--port", args.values.port);
const seed = args.values.seed === undefined ? undefined : Number(args.values.seed);
if (seed !== undefined && !Number.isInteger(seed))
  fail(`--seed must be an integer, got '${args.values.seed}'`);

let compute: ReturnType<typeof computeFromFlags>;
try {
  compute = computeFromFlags(args.values.quota, args.values["restrict-size"]);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}

// One CA and one time scale for the whole emulated world (Azure, and AKS attached to it).
const cloud = await startEmulatedCloud({
  timeScale,
  compute,
  ...(port !== undefined ? { port } : {}),
  ...(seed !== undefined ? { seed } : {}),
});
const { azure, kube } = cloud;
const envLines = Object.entries(cloud.env()).map(([k, v]) => `${k}=${v}`);
const stops: (() => Promise<void>)[] = [() => cloud.stop()];

const target = resolve(envOut);
const temp = join(dirname(target), `.${Date.now()}.${process.pid}.env.tmp`);
await writeFile(temp, `${envLines.join("\n")}\n`, { mode: 0o600 });
await rename(temp, target);

process.stdout.write(
  [
    `Azure emulator (ARM, Entra ID authority, Key Vault) listening on ${azure.armEndpoint} (time scale ${timeScale})`,
    `  tenant ${azure.tenantId}, subscription ${azure.subscriptionId}`,
    `  inventory: ${azure.armEndpoint}/_emulator/inventory`,
    `  compute quotas: ${Object.entries(azure.compute.settings().quotas)
      .filter(([name]) => name !== "virtualMachines" && name !== "virtualMachineScaleSets")
      .map(([name, limit]) => `${name}=${limit}`)
      .join(
        " ",
      )}${compute.restrictedSizes?.length ? `; restricted: ${compute.restrictedSizes.join(", ")}` : ""} (${azure.armEndpoint}/_emulator/compute)`,
    `  CA: ${azure.caFile}`,
    `AKS emulator: an API server per cluster; inventory of all clusters at ${kube.adminEndpoint}/_emulator/inventory`,
    `env written to ${target}; stop with Ctrl-C or SIGTERM`,
    "",
  ].join("\n"),
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`${signal}: stopping emulators\n`);
  const results = await Promise.allSettled(stops.map((stop) => stop()));
  const failed = results.filter((r) => r.status === "rejected");
  for (const f of failed)
    process.stderr.write(`stop failed: ${String((f as PromiseRejectedResult).reason)}\n`);
  process.exit(failed.length > 0 ? 1 : 0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
