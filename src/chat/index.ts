export * from "./cards.ts";
export * from "./limits.ts";
export * from "./markup.ts";
export * from "./paced.ts";
export * from "./router.ts";
