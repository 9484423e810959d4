export * from "./cards.ts";
export * from "./limits.ts";
export * from "./memory-limiter.ts";
export * from "./paced.ts";
export * from "./recording.ts";
export * from "./router.ts";
