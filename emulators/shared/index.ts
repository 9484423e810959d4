export * from "./chaos.ts";
export * from "./clock.ts";
export * from "./limits.ts";
export * from "./tls.ts";
export * from "./world.ts";
