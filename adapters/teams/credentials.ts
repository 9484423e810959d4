import { ClientSecretCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import { type ServiceClientCredentials, ServiceClientCredentialsFactory } from "botframework-connector";
import type { Clock } from "../../src/clock.ts";
import type { TeamsConfig } from "../../src/config.ts";

/**
 * The bot's outbound Bot Connector credential. botbuilder's own MSAL
 * credential cannot use a custom authority (instance discovery fails against
 * anything but Microsoft's), so the token comes from @azure/identity with
 * `authorityHost` = BOTFRAMEWORK_LOGIN_URL and instance discovery off for a
 * non-Microsoft host: the same code serves the public cloud, sovereign clouds
 * and the Teams emulator. The authority's certificate is trusted through
 * LABOPS_CA_FILE when given.
 */
export function botTokenCredential(config: TeamsConfig, caPem: string | undefined): TokenCredential {
  const tls = caPem ? { tlsOptions: { ca: caPem } } : {};
  if (config.appType === "UserAssignedMSI")
    return new ManagedIdentityCredential({ clientId: config.appId, ...tls });
  const tenant = config.appType === "SingleTenant" ? (config.tenantId ?? "") : "botframework.com";
  const microsoft = new URL(config.loginUrl).hostname === "login.microsoftonline.com";
  return new ClientSecretCredential(tenant, config.appId, config.appPassword ?? "", {
    authorityHost: config.loginUrl,
    disableInstanceDiscovery: !microsoft,
    ...tls,
  });
}

/** Refresh this long before expiry, so a send never waits for Entra ID. */
const REFRESH_BEFORE_MS = 5 * 60_000;
const DEFAULT_SCOPE = "https://api.botframework.com/.default";

/**
 * botbuilder asks this for credentials per connector; every one signs with a
 * token of `credential`. Tokens are cached per scope with a single fetch in
 * flight, and the default scope is fetched ahead (`warm`), so that signing is
 * immediate: a Bot Connector call goes out right at the slot PacedChat
 * reserved for it, not whenever a token request returns (a burst of cold
 * calls would otherwise reach Teams all at once).
 */
export class TokenCredentialFactory extends ServiceClientCredentialsFactory {
  readonly #appId: string;
  readonly #credential: TokenCredential;
  readonly #clock: Pick<Clock, "now">;
  readonly #tokens = new Map<string, { token: string; refreshAt: number } | Promise<string>>();

  /** `clock` tells when a cached token is due for refresh (wall time: tokens expire on Entra ID's clock). */
  constructor(appId: string, credential: TokenCredential, clock: Pick<Clock, "now">) {
    super();
    this.#appId = appId;
    this.#credential = credential;
    this.#clock = clock;
  }

  /** Fetches the Bot Connector token ahead of the first call; a failure is tried again on use. */
  warm(onError: (error: unknown) => void = () => undefined): void {
    this.token(DEFAULT_SCOPE).catch(onError);
  }

  async token(scope: string): Promise<string> {
    const cached = this.#tokens.get(scope);
    if (typeof cached === "object" && !(cached instanceof Promise) && cached.refreshAt > this.#clock.now())
      return cached.token;
    if (cached instanceof Promise) return cached;
    const fetching = this.#credential.getToken(scope).then(
      (t) => {
        if (!t) throw new Error("No Bot Connector token was issued.");
        this.#tokens.set(scope, { token: t.token, refreshAt: t.expiresOnTimestamp - REFRESH_BEFORE_MS });
        return t.token;
      },
      (error: unknown) => {
        this.#tokens.delete(scope);
        throw error;
      },
    );
    this.#tokens.set(scope, fetching);
    return fetching;
  }

  async isValidAppId(appId: string): Promise<boolean> {
    return appId === this.#appId;
  }

  /** Never: labops always validates inbound tokens and signs outbound calls. */
  async isAuthenticationDisabled(): Promise<boolean> {
    return false;
  }

  async createCredentials(appId: string, audience: string | undefined): Promise<ServiceClientCredentials> {
    if (appId !== this.#appId) throw new Error("Invalid appId.");
    const base = audience ?? "https://api.botframework.com";
    const scope = base.endsWith("/.default") ? base : `${base.replace(/\/+$/, "")}/.default`;
    return {
      signRequest: async (webResource) => {
        webResource.headers.set("authorization", `Bearer ${await this.token(scope)}`);
        return webResource;
      },
    };
  }
}
