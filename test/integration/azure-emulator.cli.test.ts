import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createAzureClients } from "../../adapters/azure/clients.ts";
import { createAzureCredential } from "../../adapters/azure/credential.ts";
import { until } from "./azure-emulator-helpers.ts";

const MAIN = join(import.meta.dirname, "../../emulators/main.ts");

function run(args: string[]): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => output, exit };
}

describe("npm run emulators", () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("writes the env lines, serves the bot through them, and exits cleanly on SIGTERM", async () => {
    dir = await mkdtemp(join(tmpdir(), "labops-cli-"));
    const envOut = join(dir, "emulators.env");
    const proc = run(["--env-out", envOut, "--time-scale", "1000"]);
    try {
      await until(() => existsSync(envOut) && proc.output().includes("env written"), "the env file");
      const env = Object.fromEntries(
        (await readFile(envOut, "utf8"))
          .trim()
          .split("\n")
          .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
      );
      expect(Object.keys(env).sort()).toEqual(
        [
          "ARM_ENDPOINT",
          "AZURE_AUTHORITY_HOST",
          "AZURE_CLIENT_ID",
          "AZURE_CLIENT_SECRET",
          "AZURE_SUBSCRIPTION_ID",
          "AZURE_TENANT_ID",
          "LABOPS_CA_FILE",
          "LABOPS_TIME_SCALE",
          "NODE_EXTRA_CA_CERTS",
        ].sort(),
      );
      expect(proc.output()).toContain(`listening on ${env.ARM_ENDPOINT}`);
      expect(env.NODE_EXTRA_CA_CERTS).toBe(env.LABOPS_CA_FILE);

      const caPem = await readFile(env.LABOPS_CA_FILE ?? "", "utf8");
      const clients = createAzureClients({
        endpoint: env.ARM_ENDPOINT ?? "",
        credential: createAzureCredential({
          tenantId: env.AZURE_TENANT_ID ?? "",
          clientId: env.AZURE_CLIENT_ID ?? "",
          clientSecret: env.AZURE_CLIENT_SECRET ?? "",
          authorityHost: env.AZURE_AUTHORITY_HOST ?? "",
          caPem,
        }),
        subscriptionId: env.AZURE_SUBSCRIPTION_ID ?? "",
        caPem,
      });
      const group = await clients.resources.resourceGroups.createOrUpdate("cli-rg", {
        location: "centralus",
      });
      expect(group.properties?.provisioningState).toBe("Succeeded");
    } finally {
      proc.child.kill("SIGTERM");
    }
    expect(await proc.exit).toBe(0);
    expect(proc.output()).toContain("SIGTERM: stopping emulators");
  });

  it("refuses to start without --env-out and says how to call it", async () => {
    const proc = run(["--time-scale", "10"]);
    expect(await proc.exit).toBe(2);
    expect(proc.output()).toContain("--env-out is required");
    expect(proc.output()).toContain("usage: npm run emulators -- --env-out PATH");
  });
});
