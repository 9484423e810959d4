export * from "./describe.ts";
export * from "./envelope.ts";
export * from "./help.ts";
export * from "./intake.ts";
export * from "./parse.ts";
export * from "./tokenize.ts";
export * from "./types.ts";
