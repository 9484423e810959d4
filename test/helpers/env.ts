import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import type { Env } from "../../src/config.ts";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** A Redis key prefix (and BullMQ prefix) no other test uses. */
export function uniquePrefix(label = "t"): string {
  return `lt-${label}-${randomBytes(4).toString("hex")}`;
}

export const TEST_SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
export const TEST_BOT_TOKEN = "xoxb-test-0000-token";

/** A complete, valid environment for one test; override what the test is about. */
export function testEnv(overrides: Record<string, string | undefined> = {}): Env {
  return {
    PORT: "0",
    REDIS_URL,
    LABOPS_REDIS_PREFIX: uniquePrefix(),
    LABOPS_SECRET_KEY: randomBytes(32).toString("base64"),
    LABOPS_LOG_LEVEL: "info",
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    SLACK_BOT_TOKEN: TEST_BOT_TOKEN,
    AZURE_SUBSCRIPTION_ID: "00000000-0000-0000-0000-000000000001",
    AZURE_TENANT_ID: "00000000-0000-0000-0000-0000000000aa",
    AZURE_CLIENT_ID: "00000000-0000-0000-0000-0000000000bb",
    AZURE_CLIENT_SECRET: "test-client-secret",
    // The caps stay out of the way of tests about other things (floods of commands, many labs, --ttl 7d);
    // test/integration/caps.test.ts and the config tests set their own.
    LABOPS_MAX_LABS_PER_USER: "1000",
    LABOPS_MAX_LABS_PER_CONVERSATION: "1000",
    LABOPS_MAX_LABS: "10000",
    LABOPS_MAX_COMMANDS_PER_MINUTE: "100000",
    LABOPS_MAX_LAB_LIFETIME: "7d",
    ...overrides,
  };
}

/** Collects pino's JSON lines so tests can read what was logged. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(
      ...chunk
        .toString("utf8")
        .split("\n")
        .filter((l) => l !== ""),
    );
    done();
  }
  entries(): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  text(): string {
    return this.lines.join("\n");
  }
}

export async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
