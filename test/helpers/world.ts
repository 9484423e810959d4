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

export async function startTestWorld(timeScale: number): Promise<TestWorld> {
  const cloud = await startEmulatedCloud({ timeScale });
  const slack = await startSlackWebApi({ botToken: TEST_BOT_TOKEN });
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
