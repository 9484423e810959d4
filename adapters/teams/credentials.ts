import { ClientSecretCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import { type ServiceClientCredentials, ServiceClientCredentialsFactory } from "botframework-connector";
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

/** botbuilder asks this for credentials per connector; every one signs with a token of `credential`. */
export class TokenCredentialFactory extends ServiceClientCredentialsFactory {
  readonly #appId: string;
  readonly #credential: TokenCredential;

  constructor(appId: string, credential: TokenCredential) {
    super();
    this.#appId = appId;
    this.#credential = credential;
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
    const credential = this.#credential;
    return {
      async signRequest(webResource) {
        const token = await credential.getToken(scope);
        if (!token) throw new Error("No Bot Connector token was issued.");
        webResource.headers.set("authorization", `Bearer ${token.token}`);
        return webResource;
      },
    };
  }
}
