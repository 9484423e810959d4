import type { CsiDriverRelease } from "../../emulators/kubernetes/index.ts";
import { type SlackWebApiEmulator, startSlackWebApi } from "../../emulators/slack/web-api.ts";
import { type EmulatedCloud, startEmulatedCloud } from "../../emulators/world.ts";
import type { Env } from "../../src/config.ts";
import { TEST_BOT_TOKEN, testEnv } from "./env.ts";

/** The emulated cloud plus a Slack Web API, and the env that points labops at them. */
export interface TestWorld {
  cloud: EmulatedCloud;
  slack: SlackWebApiEmulator;
  env(overrides?: Record<string, string | undefined>): Env;
  stop(): Promise<void>;
}

/** The CSI driver releases the AKS emulator models: suites that depend on rotation run under each. */
export const CSI_DRIVER_RELEASES: readonly CsiDriverRelease[] = ["1.5", "1.6"];

export interface TestWorldOptions {
  /** The clusters' CSI driver release (the emulator's default, or LABOPS_EMULATOR_CSI_DRIVER, when absent). */
  csiDriver?: CsiDriverRelease;
}

export async function startTestWorld(timeScale: number, options: TestWorldOptions = {}): Promise<TestWorld> {
  const cloud = await startEmulatedCloud({
    timeScale,
    ...(options.csiDriver ? { csiDriver: options.csiDriver } : {}),
  });
  // Slack's limits at the world's pace, as the bot paces itself: else a bot dividing its windows by the
  // time scale draws 429s (and Retry-After waits in real seconds) from an emulator counting real minutes.
  const slack = await startSlackWebApi({ botToken: TEST_BOT_TOKEN, timeScale });
  const base = testEnv({ ...cloud.env(), SLACK_API_URL: slack.url });
  return {
    cloud,
    slack,
    env: (overrides = {}) => ({ ...base, ...overrides }),
    async stop() {
      await slack.close();
      await cloud.stop();
    },
  };
}
