export * from "./audit.ts";
export * from "./chat.ts";
export * from "./confirmations.ts";
export * from "./conversations.ts";
export * from "./deliveries.ts";
export * from "./queue.ts";
export * from "./rate.ts";
export * from "./registry.ts";
