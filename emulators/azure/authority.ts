import type { EmulatorResponse } from "./http.ts";
import {
  type DecodedJwt,
  decodeJwt,
  epochSeconds,
  type JsonWebKeyPublic,
  type JwtPayload,
  type SigningKey,
  signJwt,
  verifyJwtSignature,
} from "./jwt.ts";
import type { AzureState, Principal } from "./state.ts";

/**
 * An Entra ID-like authority: OpenID discovery, the signing keys, and the v2
 * token endpoint for the client-credentials grant, by client secret or by a
 * federated assertion (workload identity). Errors carry Entra's AADSTS codes
 * and wording so that a misconfigured bot fails here the way it would there.
 */

export const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Lifetime Entra gives app tokens (about an hour). */
const TOKEN_LIFETIME_S = 3599;
/** Clock skew tolerated on assertions and tokens, as Entra's five minutes. */
const SKEW_S = 300;

export const ARM_AUDIENCES = ["https://management.azure.com", "https://management.core.windows.net"];
export const VAULT_AUDIENCE = "https://vault.azure.net";

export interface AuthorityOptions {
  state: AzureState;
  signingKey: SigningKey;
  /** https://127.0.0.1:PORT of the server hosting the authority (and ARM). */
  origin: () => string;
  /** Published keys of an OIDC issuer the emulator hosts (a cluster's), or undefined. */
  issuerKeys: (issuer: string) => JsonWebKeyPublic[] | undefined;
}

export type TokenCheck =
  | { ok: true; claims: JwtPayload; oid: string; appId: string }
  | {
      ok: false;
      reason: "missing" | "malformed" | "signature" | "expired" | "audience" | "tenant";
      audience?: string;
    };

const trimSlash = (s: string) => s.replace(/\/+$/, "");

export class Authority {
  readonly #state: AzureState;
  readonly #key: SigningKey;
  readonly #origin: () => string;
  readonly #issuerKeys: AuthorityOptions["issuerKeys"];

  constructor(options: AuthorityOptions) {
    this.#state = options.state;
    this.#key = options.signingKey;
    this.#origin = options.origin;
    this.#issuerKeys = options.issuerKeys;
  }

  get issuer(): string {
    return `${this.#origin()}/${this.#state.tenantId}/v2.0`;
  }

  get jwks(): JsonWebKeyPublic[] {
    return [this.#key.jwk];
  }

  /** Resources this authority issues tokens for (what `scope=<resource>/.default` may name). */
  knownResources(): string[] {
    return [...ARM_AUDIENCES, this.#origin(), VAULT_AUDIENCE];
  }

  /** Answers authority paths; undefined when `path` is not one of them. */
  async handle(
    method: string,
    path: string,
    readForm: () => Promise<URLSearchParams>,
  ): Promise<EmulatorResponse | undefined> {
    const m =
      /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|discovery\/v2\.0\/keys|oauth2\/v2\.0\/token)$/.exec(
        path,
      );
    if (!m) return undefined;
    const [, tenant = "", what] = m;
    if (tenant.toLowerCase() !== this.#state.tenantId.toLowerCase()) {
      return this.#oauthError(
        400,
        "invalid_request",
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
      );
    }
    if (what === "discovery/v2.0/keys") {
      return method === "GET" ? { status: 200, body: { keys: this.jwks } } : methodNotAllowed();
    }
    if (what?.startsWith("v2.0/")) {
      return method === "GET" ? { status: 200, body: this.#discovery() } : methodNotAllowed();
    }
    if (method !== "POST") return methodNotAllowed();
    return this.#token(await readForm());
  }

  #discovery(): Record<string, unknown> {
    const base = `${this.#origin()}/${this.#state.tenantId}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ["query", "fragment", "form_post"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      scopes_supported: ["openid", "profile", "email", "offline_access"],
      issuer: this.issuer,
      request_uri_parameter_supported: false,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      claims_supported: ["sub", "iss", "aud", "exp", "iat", "nbf", "oid", "tid", "azp", "appid", "ver"],
      tenant_region_scope: null,
      cloud_instance_name: "labops.emulator",
    };
  }

  async #token(form: URLSearchParams): Promise<EmulatorResponse> {
    const grantType = form.get("grant_type");
    const clientId = form.get("client_id");
    if (!clientId) {
      return this.#oauthError(
        400,
        "invalid_request",
        900144,
        "The request body must contain the following parameter: 'client_id'.",
      );
    }
    if (grantType !== "client_credentials") {
      return this.#oauthError(
        400,
        "unsupported_grant_type",
        70003,
        `The app requested an unsupported grant type '${grantType ?? ""}'. The emulator supports client_credentials only.`,
      );
    }
    const resource = this.#resourceFromScope(form.get("scope"));
    if ("error" in resource) return resource.error;

    const assertionType = form.get("client_assertion_type");
    const assertion = form.get("client_assertion");
    let principal: Principal;
    let appidacr: string;
    if (assertion !== null || assertionType !== null) {
      if (assertionType !== CLIENT_ASSERTION_TYPE) {
        return this.#oauthError(
          400,
          "invalid_request",
          700010,
          `Invalid client assertion type '${assertionType ?? ""}'. Expected '${CLIENT_ASSERTION_TYPE}'.`,
        );
      }
      const exchanged = this.#federated(clientId, assertion ?? "");
      if ("error" in exchanged) return exchanged.error;
      principal = exchanged.principal;
      appidacr = "2";
    } else {
      const found = this.#state.principalByAppId(clientId);
      if (!found) return this.#appNotFound(clientId);
      const secret = form.get("client_secret");
      if (!found.secret || secret !== found.secret) {
        return this.#oauthError(
          401,
          "invalid_client",
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
        );
      }
      principal = found;
      appidacr = "1";
    }
    const token = this.issue(principal, resource.audience, appidacr);
    return {
      status: 200,
      body: {
        token_type: "Bearer",
        expires_in: TOKEN_LIFETIME_S,
        ext_expires_in: TOKEN_LIFETIME_S,
        access_token: token,
      },
    };
  }

  /** Signs an access token for `principal` and `audience`. */
  issue(principal: Principal, audience: string, appidacr = "1"): string {
    const now = epochSeconds(this.#state.clock.now());
    const claims: JwtPayload = {
      aud: audience,
      iss: this.issuer,
      iat: now,
      nbf: now,
      exp: now + TOKEN_LIFETIME_S,
      appid: principal.appId,
      azp: principal.appId,
      appidacr,
      idtyp: principal.kind === "User" ? "user" : "app",
      oid: principal.objectId,
      sub: principal.objectId,
      tid: this.#state.tenantId,
      ver: "2.0",
    };
    if (principal.kind === "User") claims.name = principal.displayName;
    if (principal.resourceId) claims.xms_mirid = principal.resourceId;
    return signJwt(this.#key, claims);
  }

  #resourceFromScope(scope: string | null): { audience: string } | { error: EmulatorResponse } {
    const scopes = (scope ?? "")
      .split(/\s+/)
      .filter((s) => s && !["openid", "profile", "offline_access"].includes(s));
    if (scopes.length === 0) {
      return {
        error: this.#oauthError(
          400,
          "invalid_request",
          900144,
          "The request body must contain the following parameter: 'scope'.",
        ),
      };
    }
    const defaults = scopes.filter((s) => s.endsWith("/.default"));
    if (defaults.length !== 1 || scopes.length !== 1) {
      return {
        error: this.#oauthError(
          400,
          "invalid_scope",
          1002012,
          `The provided value for scope ${scopes.join(" ")} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
        ),
      };
    }
    const resource = trimSlash((defaults[0] ?? "").slice(0, -"/.default".length));
    const known = this.knownResources().find((r) => trimSlash(r).toLowerCase() === resource.toLowerCase());
    if (!known) {
      return {
        error: this.#oauthError(
          400,
          "invalid_resource",
          500011,
          `The resource principal named ${resource} was not found in the tenant named ${this.#state.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
        ),
      };
    }
    return { audience: resource };
  }

  /**
   * Workload identity federation: the assertion must be a JWT signed by an
   * issuer this world hosts, and one federated credential of the identity
   * named by client_id must match its issuer, subject and audience.
   */
  #federated(clientId: string, assertion: string): { principal: Principal } | { error: EmulatorResponse } {
    const jwt = decodeJwt(assertion);
    if (!jwt) {
      return { error: this.#oauthError(400, "invalid_client", 50027, "JWT token is invalid or malformed.") };
    }
    const identity = this.#state.identityByClientId(clientId);
    const principal = identity ? this.#state.principal(identity.principalId) : undefined;
    if (!identity || !principal) return { error: this.#appNotFound(clientId) };
    const iss = typeof jwt.payload.iss === "string" ? jwt.payload.iss : "";
    const sub = typeof jwt.payload.sub === "string" ? jwt.payload.sub : "";
    const auds = audiencesOf(jwt);
    const credentials = [...identity.federatedCredentials.values()];
    const sameIssuer = credentials.filter((c) => c.issuer === iss);
    if (sameIssuer.length === 0) {
      return {
        error: this.#oauthError(
          401,
          "invalid_client",
          700211,
          `No matching federated identity record found for presented assertion issuer '${iss}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`,
        ),
      };
    }
    const match = sameIssuer.find((c) => c.subject === sub && c.audiences.some((a) => auds.includes(a)));
    if (!match) {
      return {
        error: this.#oauthError(
          400,
          "invalid_request",
          70021,
          `No matching federated identity record found for presented assertion. Assertion Issuer: '${iss}'. Assertion Subject: '${sub}'. Assertion Audience: '${auds.join(",")}'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`,
        ),
      };
    }
    const keys = this.#issuerKeys(iss);
    if (!keys) {
      return {
        error: this.#oauthError(
          400,
          "invalid_request",
          50166,
          `Request to External OIDC endpoint failed. The issuer '${iss}' did not serve its OpenID configuration.`,
        ),
      };
    }
    if (!verifyJwtSignature(jwt, keys)) {
      return {
        error: this.#oauthError(
          401,
          "invalid_client",
          700027,
          "Client assertion failed signature validation.",
        ),
      };
    }
    const now = epochSeconds(this.#state.clock.now());
    const exp = typeof jwt.payload.exp === "number" ? jwt.payload.exp : 0;
    const nbf =
      typeof jwt.payload.nbf === "number"
        ? jwt.payload.nbf
        : typeof jwt.payload.iat === "number"
          ? jwt.payload.iat
          : 0;
    if (exp + SKEW_S < now || nbf - SKEW_S > now) {
      return {
        error: this.#oauthError(
          400,
          "invalid_client",
          700024,
          `Client assertion is not within its valid time range. Current time: ${isoSeconds(now)}, assertion valid from ${isoSeconds(nbf)}, expiry time of assertion ${isoSeconds(exp)}.`,
        ),
      };
    }
    return { principal };
  }

  #appNotFound(clientId: string): EmulatorResponse {
    return this.#oauthError(
      400,
      "unauthorized_client",
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${this.#state.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    );
  }

  #oauthError(status: number, error: string, code: number, description: string): EmulatorResponse {
    const traceId = this.#state.ids.guid();
    const correlationId = this.#state.ids.guid();
    const timestamp = new Date(this.#state.clock.now())
      .toISOString()
      .replace("T", " ")
      .replace(/\.\d+Z$/, "Z");
    return {
      status,
      body: {
        error,
        error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
        error_codes: [code],
        timestamp,
        trace_id: traceId,
        correlation_id: correlationId,
        error_uri: `${this.#origin()}/error?code=${code}`,
      },
    };
  }

  /**
   * Checks a bearer token from an Authorization header: signed by this
   * authority, for this tenant, not expired, and for one of `audiences`.
   */
  checkBearer(authorization: string | undefined, audiences: readonly string[]): TokenCheck {
    if (!authorization) return { ok: false, reason: "missing" };
    const m = /^Bearer\s+(\S+)$/i.exec(authorization);
    const jwt = m?.[1] ? decodeJwt(m[1]) : undefined;
    if (!jwt) return { ok: false, reason: "malformed" };
    if (!verifyJwtSignature(jwt, this.jwks) || jwt.payload.iss !== this.issuer)
      return { ok: false, reason: "signature" };
    if (jwt.payload.tid !== this.#state.tenantId) return { ok: false, reason: "tenant" };
    const now = epochSeconds(this.#state.clock.now());
    const exp = typeof jwt.payload.exp === "number" ? jwt.payload.exp : 0;
    if (exp + SKEW_S < now) return { ok: false, reason: "expired" };
    const aud = typeof jwt.payload.aud === "string" ? trimSlash(jwt.payload.aud).toLowerCase() : "";
    if (!audiences.some((a) => trimSlash(a).toLowerCase() === aud)) {
      return { ok: false, reason: "audience", audience: String(jwt.payload.aud) };
    }
    const oid = jwt.payload.oid;
    const appId = jwt.payload.appid;
    if (typeof oid !== "string" || typeof appId !== "string") return { ok: false, reason: "malformed" };
    return { ok: true, claims: jwt.payload, oid, appId };
  }
}

function audiencesOf(jwt: DecodedJwt): string[] {
  const aud = jwt.payload.aud;
  if (typeof aud === "string") return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === "string");
  return [];
}

function isoSeconds(s: number): string {
  return new Date(s * 1000).toISOString();
}

function methodNotAllowed(): EmulatorResponse {
  return { status: 405, body: { error: "invalid_request", error_description: "Method not allowed." } };
}
