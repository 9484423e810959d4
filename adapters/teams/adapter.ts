import {
  type Activity,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  type TurnContext,
} from "botbuilder";
import { AuthenticationError } from "botframework-connector";
import type { Request, Response } from "express";
import type { Clock } from "../../src/clock.ts";
import type { TeamsConfig } from "../../src/config.ts";
import { errorCode } from "../../src/errors.ts";
import type { Logger } from "../../src/log.ts";
import { botTokenCredential, TokenCredentialFactory } from "./credentials.ts";

const BOT_FRAMEWORK_SCOPE = "https://api.botframework.com";

/**
 * ConfigurationBotFrameworkAuthentication with every endpoint from our
 * configuration. Once one custom key is given, botbuilder takes all of them
 * as given (docs/ARCHITECTURE.md), so all are set: login URL per tenant, scope,
 * issuer, OpenID metadata, caller id.
 */
export function teamsAuthentication(
  config: TeamsConfig,
  caPem: string | undefined,
  clock: Pick<Clock, "now">,
  onTokenError?: (error: unknown) => void,
): ConfigurationBotFrameworkAuthentication {
  const tenant = config.appType === "MultiTenant" ? "botframework.com" : (config.tenantId ?? "");
  const factory = new TokenCredentialFactory(config.appId, botTokenCredential(config, caPem), clock);
  factory.warm(onTokenError);
  return new ConfigurationBotFrameworkAuthentication(
    {
      MicrosoftAppId: config.appId,
      MicrosoftAppTenantId: tenant,
      MicrosoftAppType: config.appType,
      ToChannelFromBotLoginUrl: `${config.loginUrl}/${tenant}`,
      ToChannelFromBotOAuthScope: BOT_FRAMEWORK_SCOPE,
      ToBotFromChannelTokenIssuer: config.tokenIssuer,
      OAuthUrl: "https://api.botframework.com",
      ToBotFromChannelOpenIdMetadataUrl: config.openIdMetadataUrl,
      ToBotFromEmulatorOpenIdMetadataUrl:
        "https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration",
      CallerId: "urn:botframework:azure",
      ValidateAuthority: true,
    },
    factory,
    { requiredEndorsements: [] },
  );
}

const AUTH_FAILURES = new Set([
  "AuthenticationError",
  "JsonWebTokenError",
  "NotBeforeError",
  "TokenExpiredError",
]);

/** A failure that means "this request is not from the Bot Framework": 401, never 500. */
export function isAuthFailure(error: unknown): boolean {
  if (error instanceof AuthenticationError) return true;
  return error instanceof Error && AUTH_FAILURES.has(error.name);
}

/**
 * CloudAdapter as the Teams route uses it. `process` turns some token errors
 * (a bad signature under a known kid, a token not yet valid) into 500s, so the
 * route calls `processActivity` itself and maps every authentication failure
 * to 401. The turn's own errors go to `onTurnError` and are logged.
 */
export class LabopsCloudAdapter extends CloudAdapter {
  readonly #logger: Logger;

  constructor(auth: ConfigurationBotFrameworkAuthentication, logger: Logger) {
    super(auth);
    this.#logger = logger.child({ component: "teams" });
    this.onTurnError = async (_context, error) => {
      this.#logger.error(
        { code: errorCode(error), err: error instanceof Error ? error.message : String(error) },
        "teams.turn_failed",
      );
    };
  }

  async handle(req: Request, res: Response, logic: (context: TurnContext) => Promise<void>): Promise<void> {
    const activity = req.body as Partial<Activity> | undefined;
    if (typeof activity !== "object" || activity === null || typeof activity.type !== "string") {
      res.status(400).json({ error: "The body is not a Bot Framework activity." });
      return;
    }
    const authHeader = typeof req.headers.authorization === "string" ? req.headers.authorization : "";
    try {
      const invoke = await this.processActivity(authHeader, activity as Activity, logic);
      res.status(invoke?.status ?? 200);
      if (invoke?.body !== undefined) res.json(invoke.body);
      else res.end();
    } catch (error) {
      if (isAuthFailure(error)) {
        this.#logger.warn({ code: error instanceof Error ? error.name : "auth" }, "teams.unauthorized");
        res.status(401).json({ error: "Unauthorized" });
        return;
      }
      this.#logger.error({ code: errorCode(error) }, "teams.request_failed");
      res.status(500).json({ error: "The bot could not process this activity." });
    }
  }
}
