export * from "./chat.ts";
export * from "./queue.ts";
