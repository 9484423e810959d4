export type { ClusterInventory } from "./cluster.ts";
export type { CsiDriverRelease } from "./controllers/csi.ts";
export { DEFAULT_CSI_DRIVER_RELEASE } from "./controllers/csi.ts";
export type { CrashRule, KubeletTiming } from "./controllers/kubelet.ts";
export { DEFAULT_KUBELET_TIMING } from "./controllers/kubelet.ts";
export * from "./emulator.ts";
export type { ChaosCounts, ChaosOptions } from "./faults.ts";
export type { ApiFault } from "./server.ts";
