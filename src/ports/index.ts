export * from "./chat.ts";
export * from "./queue.ts";
export * from "./registry.ts";
