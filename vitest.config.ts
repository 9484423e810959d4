// First: on a Node too old for the .ts entry points the tests start, say so in one line and stop.
import "./scripts/check-node.mjs";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    // Two cores: more workers only thrash the emulators' timers.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 20_000,
    reporters: ["default"],
  },
});
