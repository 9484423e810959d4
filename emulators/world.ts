import { type AzureEmulator, type StartAzureEmulatorOptions, startAzureEmulator } from "./azure/index.ts";
import {
  type KubernetesEmulator,
  type KubernetesEmulatorOptions,
  startKubernetesEmulator,
} from "./kubernetes/index.ts";
import { type CertificateAuthority, createCertificateAuthority } from "./shared/tls.ts";

/**
 * The emulated cloud in one call: the Azure emulator and the AKS emulator
 * attached to it, under one CA and one time scale. `npm run emulators`, the
 * demo, the benchmarks and the tests all start the world this way.
 */
export interface EmulatedCloud {
  /** The CA every emulator certificate chains to; chat emulators can share it. */
  ca: CertificateAuthority;
  azure: AzureEmulator;
  kube: KubernetesEmulator;
  timeScale: number;
  /** Env lines that point `npm start` at this world (ARM_ENDPOINT, AZURE_*, LABOPS_CA_FILE, LABOPS_TIME_SCALE…). */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

export interface EmulatedCloudOptions extends Omit<StartAzureEmulatorOptions, "ca" | "timeScale"> {
  timeScale: number;
  /**
   * The Secrets Store CSI driver release of every cluster (or per cluster):
   * "1.6" (the default) or "1.5"; LABOPS_EMULATOR_CSI_DRIVER when absent.
   */
  csiDriver?: KubernetesEmulatorOptions["csiDriver"];
}

export async function startEmulatedCloud(options: EmulatedCloudOptions): Promise<EmulatedCloud> {
  const ca = await createCertificateAuthority("labops emulators CA");
  const { csiDriver, ...azureOptions } = options;
  const azure = await startAzureEmulator({ ...azureOptions, ca });
  let kube: KubernetesEmulator;
  try {
    kube = await startKubernetesEmulator({ azure: azure.world, ca, ...(csiDriver ? { csiDriver } : {}) });
  } catch (error) {
    await azure.stop();
    throw error;
  }
  return {
    ca,
    azure,
    kube,
    timeScale: options.timeScale,
    env() {
      const lines = [...azure.envLines(), `LABOPS_TIME_SCALE=${options.timeScale}`];
      return Object.fromEntries(
        lines.map((line) => {
          const eq = line.indexOf("=");
          return [line.slice(0, eq), line.slice(eq + 1)];
        }),
      );
    },
    async stop() {
      await kube.stop();
      await azure.stop();
    },
  };
}
