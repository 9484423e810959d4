import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { z } from "zod";
import {
  duration,
  GUID,
  httpsUrl,
  optionalText,
  parseDuration,
  priceOverrides,
  redisUrlProblem,
  textWithDefault,
  wholeNumber,
} from "./config-fields.ts";
import {
  type AzureConfig,
  type Config,
  type Env,
  ROLES,
  type Role,
  type SlackConfig,
  type TeamsConfig,
} from "./config-types.ts";
import { CONFIG_VARIABLES } from "./config-variables.ts";
import { ConfigError, type ConfigProblem } from "./errors.ts";

/**
 * Configuration comes only from the environment, read by a function of `env`
 * so tests pass their own. Every variable is listed in `CONFIG_VARIABLES`
 * (src/config-variables.ts). Every problem is reported at once, in one
 * ConfigError: a value that fails its own check is set aside and the checks
 * that combine variables still run, so fixing what one message names never
 * reveals more.
 */

export { parseDuration } from "./config-fields.ts";
export type {
  AzureConfig,
  Config,
  Env,
  Role,
  SlackConfig,
  TeamsAppType,
  TeamsConfig,
} from "./config-types.ts";
export type { ConfigVariable } from "./config-variables.ts";
export { CONFIG_VARIABLES, ROLES };

const schema = z.object({
  PORT: wholeNumber("PORT", "a TCP port number between 1 and 65535 (0 picks a free one)", 0, 65535),
  LABOPS_HOST: textWithDefault("LABOPS_HOST").pipe(
    z.string().refine((v) => isIP(v) !== 0 || /^[a-z0-9.-]+$/i.test(v), {
      message: "set an IP address to listen on, e.g. 0.0.0.0 (every interface) or 127.0.0.1",
    }),
  ),
  REDIS_URL: textWithDefault("REDIS_URL").pipe(
    z.string().superRefine((v, ctx) => {
      const problem = redisUrlProblem(v);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
  ),
  LABOPS_ROLE: textWithDefault("LABOPS_ROLE").pipe(
    z
      .string()
      .refine((v) => v === "all" || v.split(",").every((r) => (ROLES as string[]).includes(r.trim())), {
        message: "set all, or a comma list of web, worker, watcher",
      }),
  ),
  LABOPS_REDIS_PREFIX: textWithDefault("LABOPS_REDIS_PREFIX").pipe(
    z.string().regex(/^[a-zA-Z0-9_-]{1,32}$/, { message: "set 1 to 32 letters, digits, - or _ (no colon)" }),
  ),
  LABOPS_SECRET_KEY: optionalText,
  LABOPS_LOG_LEVEL: textWithDefault("LABOPS_LOG_LEVEL").pipe(
    z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"], {
      message: "set one of trace, debug, info, warn, error, fatal, silent",
    }),
  ),
  SLACK_SIGNING_SECRET: optionalText,
  SLACK_BOT_TOKEN: optionalText,
  SLACK_APP_TOKEN: optionalText,
  SLACK_API_URL: httpsUrl("SLACK_API_URL", "the Slack Web API, ending in /api/"),
  MICROSOFT_APP_ID: optionalText,
  MICROSOFT_APP_PASSWORD: optionalText,
  MICROSOFT_APP_TENANT_ID: optionalText,
  MICROSOFT_APP_TYPE: textWithDefault("MICROSOFT_APP_TYPE").pipe(
    z.enum(["SingleTenant", "MultiTenant", "UserAssignedMSI"], {
      message: "set SingleTenant, MultiTenant or UserAssignedMSI",
    }),
  ),
  BOTFRAMEWORK_OPENID_METADATA_URL: httpsUrl(
    "BOTFRAMEWORK_OPENID_METADATA_URL",
    "the Bot Framework OpenID metadata",
  ),
  BOTFRAMEWORK_TOKEN_ISSUER: textWithDefault("BOTFRAMEWORK_TOKEN_ISSUER"),
  BOTFRAMEWORK_LOGIN_URL: httpsUrl("BOTFRAMEWORK_LOGIN_URL", "the Entra ID login authority"),
  AZURE_SUBSCRIPTION_ID: optionalText.refine((v) => v === undefined || GUID.test(v.trim()), {
    message:
      "is not a subscription id: set the GUID shown by `az account show --query id` (e.g. 00000000-0000-0000-0000-000000000000), not the subscription's name.",
  }),
  AZURE_TENANT_ID: optionalText,
  AZURE_CLIENT_ID: optionalText,
  AZURE_CLIENT_SECRET: optionalText,
  AZURE_FEDERATED_TOKEN_FILE: optionalText,
  AZURE_AUTHORITY_HOST: httpsUrl("AZURE_AUTHORITY_HOST", "the Entra ID authority"),
  AZURE_LOCATION: textWithDefault("AZURE_LOCATION").pipe(
    z.string().regex(/^[a-z0-9]+$/, { message: "set an Azure region name such as centralus" }),
  ),
  ARM_ENDPOINT: httpsUrl("ARM_ENDPOINT", "Azure Resource Manager"),
  LABOPS_CA_FILE: optionalText,
  LABOPS_ADMINS: optionalText,
  LABOPS_DEFAULT_TTL: duration("LABOPS_DEFAULT_TTL"),
  LABOPS_MAX_TTL: duration("LABOPS_MAX_TTL"),
  LABOPS_MAX_LAB_LIFETIME: duration("LABOPS_MAX_LAB_LIFETIME"),
  LABOPS_MAX_LABS_PER_USER: wholeNumber("LABOPS_MAX_LABS_PER_USER", "a whole number from 1 to 1000", 1, 1000),
  LABOPS_MAX_LABS_PER_CONVERSATION: wholeNumber(
    "LABOPS_MAX_LABS_PER_CONVERSATION",
    "a whole number from 1 to 1000",
    1,
    1000,
  ),
  LABOPS_MAX_LABS: wholeNumber("LABOPS_MAX_LABS", "a whole number from 1 to 10000", 1, 10_000),
  LABOPS_MAX_COMMANDS_PER_MINUTE: wholeNumber(
    "LABOPS_MAX_COMMANDS_PER_MINUTE",
    "a whole number from 1 to 100000",
    1,
    100_000,
  ),
  LABOPS_WORKER_CONCURRENCY: wholeNumber("LABOPS_WORKER_CONCURRENCY", "a whole number from 1 to 100", 1, 100),
  LABOPS_JOB_LOCK_MS: wholeNumber("LABOPS_JOB_LOCK_MS", "milliseconds from 1000 to 600000", 1000, 600_000),
  LABOPS_ADMIN_TOKEN: optionalText,
  LABOPS_VM_SIZE: textWithDefault("LABOPS_VM_SIZE").pipe(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{1,63}$/, { message: "set a VM size such as Standard_B2s" }),
  ),
  LABOPS_NODE_COUNT: wholeNumber("LABOPS_NODE_COUNT", "a whole number from 1 to 10", 1, 10),
  LABOPS_PRICES: optionalText.pipe(
    z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return {};
        try {
          return priceOverrides.parse(JSON.parse(v));
        } catch {
          ctx.addIssue({
            code: "custom",
            message:
              'set JSON of hourly USD prices per location, e.g. {"westeurope":{"vm":{"Standard_B2s":0.048},"loadBalancer":0.028}}',
          });
          return z.NEVER;
        }
      }),
  ),
  LABOPS_CHAT_MARGIN_MS: textWithDefault("LABOPS_CHAT_MARGIN_MS").pipe(
    z
      .string()
      .transform(Number)
      .refine((n) => Number.isInteger(n) && n >= 0 && n <= 10_000, {
        message: "set whole milliseconds from 0 to 10000",
      }),
  ),
  LABOPS_TIME_SCALE: textWithDefault("LABOPS_TIME_SCALE").pipe(
    z
      .string()
      .transform(Number)
      .refine((n) => Number.isFinite(n) && n >= 1 && n <= 100_000, {
        message: "set a number from 1 (real Azure) to 100000",
      }),
  ),
});

const SECRET_NAMES = new Set(CONFIG_VARIABLES.filter((v) => v.secret).map((v) => v.name));

/**
 * One schema problem in words. Our own checks word their message ("is not a
 * URL: …", or "set …" after "is not valid"); zod's own messages may quote the
 * input, so a secret gets only "is not valid".
 */
function schemaMessage(variable: string, issue: z.core.$ZodIssue): string {
  const own = issue.code === "custom";
  if (!own && SECRET_NAMES.has(variable)) return "is not valid.";
  return /^(is|starts|names|has) /.test(issue.message) ? issue.message : `is not valid: ${issue.message}`;
}

export function parseRoles(value: string): Set<Role> {
  if (value === "all") return new Set(ROLES);
  return new Set(value.split(",").map((r) => r.trim() as Role));
}

function parseSecretKey(value: string | undefined, problems: ConfigProblem[]): Buffer {
  const hint = "set 32 random bytes in base64, e.g. the output of `openssl rand -base64 32`";
  if (value === undefined) {
    problems.push({ variable: "LABOPS_SECRET_KEY", message: `is missing: ${hint}` });
    return Buffer.alloc(0);
  }
  const key = Buffer.from(value, "base64");
  if (key.length !== 32) {
    problems.push({ variable: "LABOPS_SECRET_KEY", message: `is not 32 bytes of base64: ${hint}` });
  }
  return key;
}

/** Reads and checks the configuration; throws one ConfigError naming every problem. */
export function loadConfig(env: Env): Config {
  const problems: ConfigProblem[] = [];
  let parsed = schema.safeParse(env);
  const invalid = new Set<string>();
  if (!parsed.success) {
    const repaired: Record<string, string | undefined> = { ...env };
    for (const issue of parsed.error.issues) {
      const variable = String(issue.path[0] ?? "?");
      if (invalid.has(variable)) continue;
      invalid.add(variable);
      repaired[variable] = undefined;
      problems.push({ variable, message: schemaMessage(variable, issue) });
    }
    // Checked again without the bad values (their defaults, or unset), so that the checks
    // combining variables below report everything else in the same message.
    parsed = schema.safeParse(repaired);
    if (!parsed.success) throw new ConfigError(problems);
  }
  const e = parsed.data;
  const schemaProblems = problems.length;
  const roles = parseRoles(e.LABOPS_ROLE);

  const slackSet = [e.SLACK_SIGNING_SECRET, e.SLACK_BOT_TOKEN, e.SLACK_APP_TOKEN].some(
    (v) => v !== undefined,
  );
  const teamsSet = [e.MICROSOFT_APP_ID, e.MICROSOFT_APP_PASSWORD].some((v) => v !== undefined);
  let slack: SlackConfig | undefined;
  let teams: TeamsConfig | undefined;

  if (slackSet) {
    // Socket Mode receives over a WebSocket it opened itself: there is no request to verify.
    if (e.SLACK_SIGNING_SECRET === undefined && e.SLACK_APP_TOKEN === undefined) {
      problems.push({
        variable: "SLACK_SIGNING_SECRET",
        message:
          "is missing: set the Signing Secret from your Slack app's Basic Information page (or SLACK_APP_TOKEN for Socket Mode).",
      });
    }
    if (e.SLACK_BOT_TOKEN === undefined) {
      problems.push({
        variable: "SLACK_BOT_TOKEN",
        message:
          "is missing: set the Bot User OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page.",
      });
    }
    const botToken = e.SLACK_BOT_TOKEN;
    // Bot tokens are xoxb-…, or xoxe.xoxb-… with token rotation; a user token (xoxp-) acts as a person.
    const botTokenOk = botToken === undefined || /^(xoxe\.)?xoxb-/.test(botToken);
    if (!botTokenOk) {
      problems.push({
        variable: "SLACK_BOT_TOKEN",
        message: `${botToken?.startsWith("xoxp-") ? "is a user token (xoxp-…), which acts as a person" : "is not a bot token"}: set the Bot User OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page.`,
      });
    }
    if (e.SLACK_APP_TOKEN !== undefined && !e.SLACK_APP_TOKEN.startsWith("xapp-")) {
      problems.push({
        variable: "SLACK_APP_TOKEN",
        message:
          "is not an app-level token: set an xapp-… token with connections:write, or unset it for HTTP mode.",
      });
    }
    if (
      (e.SLACK_SIGNING_SECRET !== undefined || e.SLACK_APP_TOKEN !== undefined) &&
      e.SLACK_BOT_TOKEN !== undefined &&
      botTokenOk
    ) {
      slack = {
        signingSecret: e.SLACK_SIGNING_SECRET ?? "",
        botToken: e.SLACK_BOT_TOKEN,
        appToken: e.SLACK_APP_TOKEN,
        apiUrl: e.SLACK_API_URL.endsWith("/") ? e.SLACK_API_URL : `${e.SLACK_API_URL}/`,
      };
    }
  }

  if (teamsSet) {
    if (e.MICROSOFT_APP_ID === undefined) {
      problems.push({
        variable: "MICROSOFT_APP_ID",
        message: "is missing: set the Azure Bot's Microsoft App ID.",
      });
    }
    if (e.MICROSOFT_APP_TYPE !== "UserAssignedMSI" && e.MICROSOFT_APP_PASSWORD === undefined) {
      problems.push({
        variable: "MICROSOFT_APP_PASSWORD",
        message:
          "is missing: set a client secret of the bot's app registration, or use MICROSOFT_APP_TYPE=UserAssignedMSI.",
      });
    }
    if (e.MICROSOFT_APP_TYPE !== "MultiTenant" && e.MICROSOFT_APP_TENANT_ID === undefined) {
      problems.push({
        variable: "MICROSOFT_APP_TENANT_ID",
        message: `is missing: a ${e.MICROSOFT_APP_TYPE} bot needs the tenant id of its app registration.`,
      });
    }
    if (e.MICROSOFT_APP_ID !== undefined) {
      teams = {
        appId: e.MICROSOFT_APP_ID,
        appPassword: e.MICROSOFT_APP_PASSWORD,
        tenantId: e.MICROSOFT_APP_TENANT_ID,
        appType: e.MICROSOFT_APP_TYPE,
        openIdMetadataUrl: e.BOTFRAMEWORK_OPENID_METADATA_URL,
        tokenIssuer: e.BOTFRAMEWORK_TOKEN_ISSUER,
        loginUrl: e.BOTFRAMEWORK_LOGIN_URL.replace(/\/+$/, ""),
      };
    }
  }

  if (!slackSet && !teamsSet) {
    problems.push({
      variable: "SLACK_SIGNING_SECRET",
      message:
        "is missing, and no chat platform is configured: for Slack set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN; for Teams set MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD and MICROSOFT_APP_TENANT_ID.",
    });
  }

  let azure: AzureConfig | undefined;
  const needsAzure = roles.has("worker") || roles.has("watcher");
  if (needsAzure) {
    const required: Array<[string, string | undefined, string]> = [
      ["AZURE_SUBSCRIPTION_ID", e.AZURE_SUBSCRIPTION_ID, "set the subscription id labs are created in."],
      ["AZURE_TENANT_ID", e.AZURE_TENANT_ID, "set the Entra ID tenant id of the bot's identity."],
      [
        "AZURE_CLIENT_ID",
        e.AZURE_CLIENT_ID,
        "set the client id of the bot's managed identity or app registration.",
      ],
    ];
    for (const [variable, value, hint] of required) {
      if (value === undefined) problems.push({ variable, message: `is missing: ${hint}` });
    }
    if (e.AZURE_CLIENT_SECRET === undefined && e.AZURE_FEDERATED_TOKEN_FILE === undefined) {
      problems.push({
        variable: "AZURE_CLIENT_SECRET",
        message:
          "is missing: set AZURE_FEDERATED_TOKEN_FILE (workload identity, recommended) or AZURE_CLIENT_SECRET for the bot's identity.",
      });
    }
    if (
      e.AZURE_SUBSCRIPTION_ID !== undefined &&
      e.AZURE_TENANT_ID !== undefined &&
      e.AZURE_CLIENT_ID !== undefined &&
      (e.AZURE_CLIENT_SECRET !== undefined || e.AZURE_FEDERATED_TOKEN_FILE !== undefined)
    ) {
      azure = {
        subscriptionId: e.AZURE_SUBSCRIPTION_ID,
        tenantId: e.AZURE_TENANT_ID,
        clientId: e.AZURE_CLIENT_ID,
        clientSecret: e.AZURE_CLIENT_SECRET,
        federatedTokenFile: e.AZURE_FEDERATED_TOKEN_FILE,
        authorityHost: e.AZURE_AUTHORITY_HOST.replace(/\/+$/, ""),
        location: e.AZURE_LOCATION,
        armEndpoint: e.ARM_ENDPOINT.replace(/\/+$/, ""),
      };
    }
  }

  const admins = (e.LABOPS_ADMINS ?? "")
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a !== "");
  const badAdmin = admins.find((a) => !/^(slack|teams):[^\s:]+$/.test(a));
  if (badAdmin !== undefined) {
    problems.push({
      variable: "LABOPS_ADMINS",
      message: `has \`${badAdmin.slice(0, 40)}\`, which is not platform:id: write slack:U0123 (Slack user id) or teams:<AAD object id>, separated by commas.`,
    });
  }

  const secretKey = parseSecretKey(e.LABOPS_SECRET_KEY, problems);

  let caPem: string | undefined;
  if (e.LABOPS_CA_FILE !== undefined) {
    try {
      caPem = readFileSync(e.LABOPS_CA_FILE, "utf8");
      if (!caPem.includes("-----BEGIN CERTIFICATE-----")) {
        problems.push({
          variable: "LABOPS_CA_FILE",
          message: "holds no PEM certificate: point it at a .pem file.",
        });
      }
    } catch {
      problems.push({
        variable: "LABOPS_CA_FILE",
        message: `cannot be read (${e.LABOPS_CA_FILE}): point it at a readable PEM file or unset it.`,
      });
    }
  }

  const defaultTtlMs = parseDuration(e.LABOPS_DEFAULT_TTL) ?? 0;
  const maxTtlMs = parseDuration(e.LABOPS_MAX_TTL) ?? 0;
  if (defaultTtlMs > maxTtlMs) {
    problems.push({
      variable: "LABOPS_DEFAULT_TTL",
      message: "is longer than LABOPS_MAX_TTL: shorten one or raise the other.",
    });
  }
  const maxLabLifetimeMs = parseDuration(e.LABOPS_MAX_LAB_LIFETIME) ?? 0;
  if (defaultTtlMs <= maxTtlMs && defaultTtlMs > maxLabLifetimeMs) {
    problems.push({
      variable: "LABOPS_DEFAULT_TTL",
      message: "is longer than LABOPS_MAX_LAB_LIFETIME: shorten one or raise the other.",
    });
  }

  if (problems.length > 0) {
    // A variable already named as not valid (set aside above) is not named again as missing.
    throw new ConfigError(problems.filter((p, i) => i < schemaProblems || !invalid.has(p.variable)));
  }

  return {
    port: e.PORT,
    host: e.LABOPS_HOST,
    redisUrl: e.REDIS_URL,
    roles,
    redisPrefix: e.LABOPS_REDIS_PREFIX,
    secretKey,
    logLevel: e.LABOPS_LOG_LEVEL,
    slack,
    teams,
    azure,
    caPem,
    admins,
    defaultTtlMs,
    maxTtlMs,
    caps: {
      maxLabsPerUser: e.LABOPS_MAX_LABS_PER_USER,
      maxLabsPerConversation: e.LABOPS_MAX_LABS_PER_CONVERSATION,
      maxLabs: e.LABOPS_MAX_LABS,
      maxCommandsPerMinute: e.LABOPS_MAX_COMMANDS_PER_MINUTE,
      maxLabLifetimeMs,
    },
    workerConcurrency: e.LABOPS_WORKER_CONCURRENCY,
    jobLockMs: e.LABOPS_JOB_LOCK_MS,
    adminToken: e.LABOPS_ADMIN_TOKEN,
    timeScale: e.LABOPS_TIME_SCALE,
    chatMarginMs: e.LABOPS_CHAT_MARGIN_MS,
    lab: { vmSize: e.LABOPS_VM_SIZE, nodeCount: e.LABOPS_NODE_COUNT },
    prices: e.LABOPS_PRICES,
  };
}
