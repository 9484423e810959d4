export * from "./azure.ts";
export * from "./chat.ts";
export * from "./cluster.ts";
export * from "./metrics.ts";
export * from "./queue.ts";
export * from "./registry.ts";
export * from "./scheduler.ts";
