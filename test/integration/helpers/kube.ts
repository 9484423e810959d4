import * as k8s from "@kubernetes/client-node";
import {
  type KubernetesClusterHandle,
  type KubernetesEmulator,
  startKubernetesEmulator,
} from "../../../emulators/kubernetes/index.ts";
import { scaledClock } from "../../../emulators/shared/clock.ts";
import { type FakeAzureWorld, fakeAzureWorld } from "./fake-azure-world.ts";

export interface KubeTestBed {
  world: FakeAzureWorld;
  emulator: KubernetesEmulator;
  cluster: KubernetesClusterHandle;
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  objects: k8s.KubernetesObjectApi;
  stop(): Promise<void>;
}

/** An AKS emulator behind a hand-driven Azure side, with client-node pointed at one cluster through its kubeconfig. */
export async function startKubeTestBed(scale = 1000, watchCacheSize?: number): Promise<KubeTestBed> {
  const clock = scaledClock(scale);
  const world = fakeAzureWorld(clock);
  const emulator = await startKubernetesEmulator(
    watchCacheSize === undefined ? { azure: world } : { azure: world, watchCacheSize },
  );
  const info = world.addCluster();
  const cluster = await emulator.waitForCluster(info.id);
  const kc = new k8s.KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  return {
    world,
    emulator,
    cluster,
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
    stop: () => emulator.stop(),
  };
}

/** Polls `probe` until it returns a value other than undefined/false; fails after `timeoutMs` of real time. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The Status body of a client-node ApiException. */
export function statusOf(e: unknown): {
  code?: number;
  reason?: string;
  message?: string;
  details?: { causes?: { field?: string; reason?: string; message?: string }[] };
} {
  const body = (e as { body?: unknown }).body;
  if (typeof body === "string") return JSON.parse(body) as ReturnType<typeof statusOf>;
  return (body ?? {}) as ReturnType<typeof statusOf>;
}

export async function expectApiError(
  p: Promise<unknown>,
): Promise<{ code: number; status: ReturnType<typeof statusOf> }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as { code?: number }).code ?? 0, status: statusOf(e) };
  }
  throw new Error("expected the call to fail");
}
