import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, loadConfig } from "../../src/config.ts";
import { ConfigError } from "../../src/errors.ts";
import { testEnv } from "../helpers/env.ts";

function problems(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("reads a complete environment with its defaults", () => {
    const config = loadConfig(testEnv({ PORT: undefined }));
    expect(config.port).toBe(3978);
    expect([...config.roles].sort()).toEqual(["watcher", "web", "worker"]);
    expect(config.slack?.apiUrl).toBe("https://slack.com/api/");
    expect(config.azure?.location).toBe("centralus");
    expect(config.defaultTtlMs).toBe(8 * 3_600_000);
    expect(config.secretKey).toHaveLength(32);
  });

  it("names every wrong or missing variable in one error and says what to set", () => {
    const error = problems(
      testEnv({ SLACK_SIGNING_SECRET: undefined, AZURE_TENANT_ID: undefined, LABOPS_SECRET_KEY: "short" }),
    );
    expect(error.problems.map((p) => p.variable).sort()).toEqual([
      "AZURE_TENANT_ID",
      "LABOPS_SECRET_KEY",
      "SLACK_SIGNING_SECRET",
    ]);
    expect(error.message).toMatch(/3 settings need attention/);
    expect(error.message).toMatch(/SLACK_SIGNING_SECRET: is missing: set the Signing Secret/);
    expect(error.message).toMatch(/openssl rand -base64 32/);
  });

  it("reports schema problems all at once with what to set", () => {
    const error = problems(testEnv({ PORT: "http", LABOPS_ROLE: "cook", LABOPS_TIME_SCALE: "0" }));
    expect(error.problems.map((p) => p.variable).sort()).toEqual([
      "LABOPS_ROLE",
      "LABOPS_TIME_SCALE",
      "PORT",
    ]);
    expect(error.message).toMatch(/PORT: is not valid: set a TCP port/);
  });

  it("names malformed and missing variables in the same message, never in rounds", () => {
    const error = problems(
      testEnv({
        PORT: "http",
        LABOPS_TIME_SCALE: "0",
        SLACK_BOT_TOKEN: undefined,
        AZURE_TENANT_ID: undefined,
        LABOPS_SECRET_KEY: "short",
        LABOPS_DEFAULT_TTL: "30d",
      }),
    );
    expect(error.problems.map((p) => p.variable).sort()).toEqual([
      "AZURE_TENANT_ID",
      "LABOPS_DEFAULT_TTL",
      "LABOPS_SECRET_KEY",
      "LABOPS_TIME_SCALE",
      "PORT",
      "SLACK_BOT_TOKEN",
    ]);
    expect(error.message).toMatch(/6 settings need attention/);
  });

  it("names a variable once, as not valid, rather than also as missing", () => {
    const error = problems(
      testEnv({ SLACK_BOT_TOKEN: "xoxp-1-user", AZURE_SUBSCRIPTION_ID: "Pay-As-You-Go" }),
    );
    expect(error.problems.map((p) => p.variable).sort()).toEqual([
      "AZURE_SUBSCRIPTION_ID",
      "SLACK_BOT_TOKEN",
    ]);
  });

  it("says what is wrong with a REDIS_URL of another scheme, without quoting it", () => {
    const error = problems(testEnv({ REDIS_URL: "http://user:pw-canary@redis.example:6379" }));
    expect(error.message).toMatch(
      /REDIS_URL: starts with http:\/\/ but labops speaks the Redis protocol: set redis:\/\/HOST:6379, or rediss:\/\//,
    );
    expect(error.message).not.toMatch(/is not valid: is not valid/);
    expect(error.message).not.toContain("pw-canary");
    expect(problems(testEnv({ REDIS_URL: "localhost:6379" })).message).toMatch(
      /REDIS_URL: has no redis:\/\/ in front/,
    );
    expect(problems(testEnv({ REDIS_URL: "not a url" })).message).toMatch(
      /REDIS_URL: is not a URL: set redis:/,
    );
  });

  it("refuses a Slack user token as the bot token, and takes a rotating bot token", () => {
    expect(problems(testEnv({ SLACK_BOT_TOKEN: "xoxp-1234-user" })).message).toMatch(
      /SLACK_BOT_TOKEN: is a user token \(xoxp-…\), which acts as a person: set the Bot User OAuth Token \(xoxb-…\)/,
    );
    expect(problems(testEnv({ SLACK_BOT_TOKEN: "xapp-1-A1-x" })).message).toMatch(
      /SLACK_BOT_TOKEN: is not a bot token: set the Bot User OAuth Token/,
    );
    expect(loadConfig(testEnv({ SLACK_BOT_TOKEN: "xoxe.xoxb-1-rotating" })).slack?.botToken).toBe(
      "xoxe.xoxb-1-rotating",
    );
  });

  it("refuses a subscription given by name instead of its GUID", () => {
    expect(problems(testEnv({ AZURE_SUBSCRIPTION_ID: "Pay-As-You-Go" })).message).toMatch(
      /AZURE_SUBSCRIPTION_ID: is not a subscription id: set the GUID shown by `az account show --query id`/,
    );
  });

  it("asks for a chat platform when none is configured, naming SLACK_SIGNING_SECRET", () => {
    const error = problems(testEnv({ SLACK_SIGNING_SECRET: undefined, SLACK_BOT_TOKEN: undefined }));
    expect(error.message).toMatch(/SLACK_SIGNING_SECRET: is missing, and no chat platform is configured/);
    expect(error.message).toMatch(/MICROSOFT_APP_ID/);
  });

  it("needs the Azure identity only for the roles that call Azure", () => {
    const web = loadConfig(
      testEnv({ LABOPS_ROLE: "web", AZURE_CLIENT_ID: undefined, AZURE_CLIENT_SECRET: undefined }),
    );
    expect(web.azure).toBeUndefined();
    const error = problems(testEnv({ LABOPS_ROLE: "worker", AZURE_CLIENT_SECRET: undefined }));
    expect(error.message).toMatch(/AZURE_FEDERATED_TOKEN_FILE/);
  });

  it("never prints a secret, even a malformed one", () => {
    const canary = "canary-9f8e7d6c5b4a";
    const error = problems(
      testEnv({
        LABOPS_SECRET_KEY: canary,
        SLACK_APP_TOKEN: canary,
        REDIS_URL: `redis://:${canary}@`,
        MICROSOFT_APP_PASSWORD: canary,
      }),
    );
    expect(error.message).not.toContain(canary);
    expect(JSON.stringify(error.problems)).not.toContain(canary);
  });

  it("matches the README's configuration table, so the two never drift", () => {
    const whole = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    // The configuration section's table (other sections' tables, such as tracing's OTEL_*, are not labops's own).
    const start = whole.indexOf("\n## Configuration");
    const readme = whole.slice(start, whole.indexOf("\n## ", start + 1));
    const rows = [...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)`\s*\|([^|]+)\|/gm)].map((m) => ({
      name: m[1],
      default: (m[2] ?? "").trim().replace(/^`|`$/g, ""),
    }));
    expect(rows.map((r) => r.name)).toEqual(CONFIG_VARIABLES.map((v) => v.name));
    expect(rows.map((r) => r.default)).toEqual(CONFIG_VARIABLES.map((v) => v.default));
  });
});

describe("LABOPS_ADMINS", () => {
  it("takes slack: and teams: ids, and names a malformed entry with what to write", () => {
    expect(
      loadConfig(testEnv({ LABOPS_ADMINS: "slack:U0123, teams:0f1e2d3c-aaaa-bbbb-cccc-000000000001" }))
        .admins,
    ).toEqual(["slack:U0123", "teams:0f1e2d3c-aaaa-bbbb-cccc-000000000001"]);
    const error = problems(testEnv({ LABOPS_ADMINS: "slack:U0123,U0456" }));
    expect(error.message).toMatch(/LABOPS_ADMINS: has `U0456`, which is not platform:id: write slack:U0123/);
  });
});

describe("Slack over Socket Mode", () => {
  it("needs the app token instead of the signing secret", () => {
    const config = loadConfig(testEnv({ SLACK_SIGNING_SECRET: undefined, SLACK_APP_TOKEN: "xapp-1-A1-x" }));
    expect(config.slack?.appToken).toBe("xapp-1-A1-x");
    expect(problems(testEnv({ SLACK_APP_TOKEN: "xoxb-not-an-app-token" })).message).toMatch(
      /SLACK_APP_TOKEN: is not an app-level token/,
    );
  });
});

describe("lab shape and prices", () => {
  it("defaults to 2 × Standard_B2s and no price overrides", () => {
    const config = loadConfig(testEnv());
    expect(config.lab).toEqual({ vmSize: "Standard_B2s", nodeCount: 2 });
    expect(config.prices).toEqual({});
  });

  it("takes LABOPS_VM_SIZE, LABOPS_NODE_COUNT and per-location LABOPS_PRICES", () => {
    const config = loadConfig(
      testEnv({
        LABOPS_VM_SIZE: "Standard_D2s_v5",
        LABOPS_NODE_COUNT: "1",
        LABOPS_PRICES: '{"westeurope":{"vm":{"Standard_B2s":0.048},"loadBalancer":0.028}}',
      }),
    );
    expect(config.lab).toEqual({ vmSize: "Standard_D2s_v5", nodeCount: 1 });
    expect(config.prices).toEqual({ westeurope: { vm: { Standard_B2s: 0.048 }, loadBalancer: 0.028 } });
  });

  it("names a bad price table or node count with what to write", () => {
    const error = problems(testEnv({ LABOPS_PRICES: '{"westeurope":{"vms":1}}', LABOPS_NODE_COUNT: "0" }));
    expect(error.problems.map((p) => p.variable).sort()).toEqual(["LABOPS_NODE_COUNT", "LABOPS_PRICES"]);
    expect(error.problems.find((p) => p.variable === "LABOPS_PRICES")?.message).toMatch(
      /set JSON of hourly USD prices/,
    );
  });
});
