export * from "./clock.ts";
export * from "./tls.ts";
export * from "./world.ts";
