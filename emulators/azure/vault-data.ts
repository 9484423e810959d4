import type { Authority } from "./authority.ts";
import { VAULT_AUDIENCE } from "./authority.ts";
import { AzureHttpError, asRecord, asStringRecord, type EmulatorResponse, parseJsonBody } from "./http.ts";
import type { AzureLatencyProfile } from "./latency.ts";
import { type AzureState, RESOURCE_TYPES, type Secret, type SecretVersion, type Vault } from "./state.ts";
import { retryAfterHeaders, type TakeResult } from "./throttle.ts";

/**
 * The Key Vault data plane for secrets, one vault per origin. Requests arrive
 * without a token first; the 401 challenge tells the client which authority
 * and resource to get one for, exactly as @azure/keyvault-secrets expects.
 * Secret values appear only in the bodies of set and get responses, never in
 * an error or a log line.
 */

export interface VaultRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  readBody(): Promise<string>;
}

export interface VaultDataContext {
  state: AzureState;
  authority: Authority;
  authorityHost(): string;
  delay(entry: keyof AzureLatencyProfile): Promise<void>;
  throttle(vaultName: string, kind: "create" | "other", limit: "vaultCreates" | "vaultOther"): TakeResult;
}

const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
/** Key Vault's limit on a secret value (25 KB). */
const MAX_VALUE_LENGTH = 25 * 1024;
const ACTION = "Microsoft.KeyVault/vaults/secrets/";

type SecretAction =
  | "getSecret/action"
  | "readMetadata/action"
  | "setSecret/action"
  | "delete"
  | "recover/action"
  | "purge/action"
  | "update/action";

/** Access-policy permission matching each RBAC data action, for vaults not using Azure RBAC. */
const POLICY_PERMISSION: Record<SecretAction, string> = {
  "getSecret/action": "get",
  "readMetadata/action": "list",
  "setSecret/action": "set",
  delete: "delete",
  "recover/action": "recover",
  "purge/action": "purge",
  "update/action": "set",
};

const seconds = (ms: number) => Math.floor(ms / 1000);

function vaultOrigin(vault: Vault): string {
  return vault.vaultUri.replace(/\/$/, "");
}

function attributes(vault: Vault, v: SecretVersion): Record<string, unknown> {
  return {
    enabled: v.enabled,
    ...(v.notBefore !== undefined ? { nbf: v.notBefore } : {}),
    ...(v.expires !== undefined ? { exp: v.expires } : {}),
    created: seconds(v.created),
    updated: seconds(v.updated),
    recoveryLevel: vault.enablePurgeProtection ? "Recoverable" : "Recoverable+Purgeable",
    recoverableDays: vault.softDeleteRetentionInDays,
  };
}

function secretBundle(
  vault: Vault,
  secret: Secret,
  v: SecretVersion,
  withValue: boolean,
): Record<string, unknown> {
  return {
    ...(withValue ? { value: v.value } : {}),
    id: `${vaultOrigin(vault)}/secrets/${secret.name}/${v.version}`,
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    ...(v.tags !== undefined ? { tags: v.tags } : {}),
    attributes: attributes(vault, v),
  };
}

function deletedBundle(vault: Vault, secret: Secret): Record<string, unknown> {
  const latest = secret.versions.at(-1);
  return {
    recoveryId: `${vaultOrigin(vault)}/deletedsecrets/${secret.name}`,
    deletedDate: seconds(secret.deleted?.deletedDate ?? 0),
    scheduledPurgeDate: seconds(secret.deleted?.scheduledPurgeDate ?? 0),
    ...(latest ? secretBundle(vault, secret, latest, false) : {}),
  };
}

function secretNotFound(name: string, version?: string): AzureHttpError {
  return new AzureHttpError(
    404,
    "SecretNotFound",
    `A secret with (name/id) ${version ? `${name}/${version}` : name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );
}

function deletedNotFound(name: string): AzureHttpError {
  return new AzureHttpError(404, "SecretNotFound", `Deleted Secret not found: ${name}`);
}

function badName(name: string): AzureHttpError {
  return new AzureHttpError(
    400,
    "BadParameter",
    `The request URI contains an invalid name: ${name}. Secret names may contain only 1-127 letters, digits and hyphens.`,
  );
}

export class VaultDataPlane {
  readonly #ctx: VaultDataContext;

  constructor(ctx: VaultDataContext) {
    this.#ctx = ctx;
  }

  challenge(): Record<string, string> {
    return {
      "www-authenticate": `Bearer authorization="${this.#ctx.authorityHost()}/${this.#ctx.state.tenantId}", resource="${VAULT_AUDIENCE}"`,
    };
  }

  async handle(vaultName: string, req: VaultRequest): Promise<EmulatorResponse> {
    const { state } = this.#ctx;
    const vault = state.liveVaultByName(vaultName);
    if (vault?.provisioningState !== "Succeeded") {
      // Azure's DNS would not even resolve the name; the listener refuses connections then, so this is a race.
      throw new AzureHttpError(404, "VaultNotFound", `The vault '${vaultName}' does not exist.`);
    }
    if (!req.query.get("api-version")) {
      throw new AzureHttpError(
        400,
        "BadParameter",
        "The request URI is missing the 'api-version' query parameter.",
      );
    }
    const token = this.#ctx.authority.checkBearer(req.authorization, [VAULT_AUDIENCE]);
    if (!token.ok) {
      const messages: Record<typeof token.reason, string> = {
        missing: "AKV10000: Request is missing a Bearer or PoP token.",
        malformed: "AKV10000: The bearer token could not be read.",
        signature: "AKV10032: Invalid issuer or signature.",
        tenant: `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${state.tenantId}/.`,
        expired: "AKV10021: The token is expired.",
        audience: `AKV10022: Invalid audience. Expected ${VAULT_AUDIENCE}, found: ${token.ok ? "" : (token.audience ?? "")}.`,
      };
      throw new AzureHttpError(401, "Unauthorized", messages[token.reason], { headers: this.challenge() });
    }
    const caller = { oid: token.oid, appId: token.appId, iss: String(token.claims.iss ?? "") };
    const segs = req.path.split("/").filter(Boolean).map(decodeURIComponent);
    const isSet = req.method === "PUT" && segs.length === 2 && segs[0]?.toLowerCase() === "secrets";
    const taken = isSet
      ? this.#ctx.throttle(vault.name, "create", "vaultCreates")
      : this.#ctx.throttle(vault.name, "other", "vaultOther");
    if (!taken.ok) {
      throw new AzureHttpError(
        429,
        "Throttled",
        `Request was not allowed because we detected too many requests on vault '${vault.name}'. Please retry after the time in the Retry-After header. See https://aka.ms/keyvault/servicelimits`,
        { headers: retryAfterHeaders(state.clock, taken.retryAfterEmulatedMs) },
      );
    }
    await this.#ctx.delay("vaultDataPlane");
    return this.#route(vault, caller, req, segs);
  }

  #authorize(
    vault: Vault,
    caller: { oid: string; appId: string; iss: string },
    action: SecretAction,
    secretName?: string,
  ) {
    const { state } = this.#ctx;
    const full = `${ACTION}${action}`;
    const resource = `${vault.id}${secretName ? `/secrets/${secretName}` : ""}`;
    const callerText = `appid=${caller.appId};oid=${caller.oid};iss=${caller.iss}`;
    if (vault.enableRbacAuthorization) {
      if (state.isAllowed(caller.oid, vault.id, full, true)) return;
      throw new AzureHttpError(
        403,
        "Forbidden",
        `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: ${callerText}\r\nAction: '${full}'\r\nResource: '${resource.toLowerCase()}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: ${vault.name};location=${vault.location}\r\n`,
        { innerCode: "ForbiddenByRbac" },
      );
    }
    const permission = POLICY_PERMISSION[action];
    const granted = vault.accessPolicies.some(
      (p) =>
        p.objectId.toLowerCase() === caller.oid.toLowerCase() &&
        (p.permissions.secrets ?? []).some(
          (s) => s.toLowerCase() === permission || s.toLowerCase() === "all",
        ),
    );
    if (granted) return;
    throw new AzureHttpError(
      403,
      "Forbidden",
      `The user, group or application '${callerText}' does not have secrets ${permission} permission on key vault '${vault.name};location=${vault.location}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287`,
      { innerCode: "AccessDenied" },
    );
  }

  async #route(
    vault: Vault,
    caller: { oid: string; appId: string; iss: string },
    req: VaultRequest,
    segs: string[],
  ): Promise<EmulatorResponse> {
    const { method } = req;
    const [collection, name, tail] = segs;
    const col = collection?.toLowerCase();
    if (name !== undefined && !SECRET_NAME.test(name)) throw badName(name);

    if (col === "secrets") {
      if (segs.length === 1 && method === "GET") {
        this.#authorize(vault, caller, "readMetadata/action");
        const items = [...vault.secrets.values()]
          .filter((s) => !s.deleted && s.versions.length > 0)
          .map((s) => {
            const latest = s.versions.at(-1) as SecretVersion;
            return {
              ...secretBundle(vault, s, latest, false),
              id: `${vaultOrigin(vault)}/secrets/${s.name}`,
            };
          });
        return { status: 200, body: { value: items, nextLink: null } };
      }
      if (segs.length === 2 && name !== undefined) {
        if (method === "PUT") return this.#set(vault, caller, name, req);
        if (method === "GET") return this.#get(vault, caller, name, undefined);
        if (method === "DELETE") return this.#delete(vault, caller, name);
      }
      if (segs.length === 3 && name !== undefined && tail !== undefined) {
        if (tail.toLowerCase() === "versions" && method === "GET") {
          this.#authorize(vault, caller, "readMetadata/action", name);
          const secret = vault.secrets.get(name.toLowerCase());
          if (!secret || secret.deleted) throw secretNotFound(name);
          return {
            status: 200,
            body: {
              value: secret.versions.map((v) => secretBundle(vault, secret, v, false)),
              nextLink: null,
            },
          };
        }
        if (method === "GET") return this.#get(vault, caller, name, tail);
        if (method === "PATCH") return this.#update(vault, caller, name, tail, req);
      }
    }
    if (col === "deletedsecrets") {
      if (segs.length === 1 && method === "GET") {
        this.#authorize(vault, caller, "readMetadata/action");
        const items = [...vault.secrets.values()]
          .filter((s) => s.deleted)
          .map((s) => deletedBundle(vault, s));
        return { status: 200, body: { value: items, nextLink: null } };
      }
      if (name !== undefined) {
        const secret = vault.secrets.get(name.toLowerCase());
        if (segs.length === 2 && method === "GET") {
          this.#authorize(vault, caller, "readMetadata/action", name);
          if (!secret?.deleted) throw deletedNotFound(name);
          return { status: 200, body: deletedBundle(vault, secret) };
        }
        if (segs.length === 2 && method === "DELETE") {
          this.#authorize(vault, caller, "purge/action", name);
          if (vault.enablePurgeProtection) {
            throw new AzureHttpError(
              403,
              "Forbidden",
              `Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.`,
              { innerCode: "PurgeProtectionEnabled" },
            );
          }
          if (!secret?.deleted) throw deletedNotFound(name);
          vault.secrets.delete(name.toLowerCase());
          this.#ctx.state.count(RESOURCE_TYPES.secret, "deleted");
          this.#ctx.state.count(RESOURCE_TYPES.secretVersion, "deleted", secret.versions.length);
          return { status: 204 };
        }
        if (segs.length === 3 && tail?.toLowerCase() === "recover" && method === "POST") {
          this.#authorize(vault, caller, "recover/action", name);
          if (!secret?.deleted) throw deletedNotFound(name);
          secret.deleted = undefined;
          const latest = secret.versions.at(-1) as SecretVersion;
          return { status: 200, body: secretBundle(vault, secret, latest, false) };
        }
      }
    }
    throw new AzureHttpError(
      400,
      "BadParameter",
      `The emulated vault does not serve ${method} ${req.path} (secrets only: no keys, certificates or backups).`,
    );
  }

  async #set(
    vault: Vault,
    caller: { oid: string; appId: string; iss: string },
    name: string,
    req: VaultRequest,
  ) {
    const { state } = this.#ctx;
    this.#authorize(vault, caller, "setSecret/action", name);
    const body = parseJsonBody(await req.readBody());
    const value = body.value;
    if (typeof value !== "string") {
      throw new AzureHttpError(400, "BadParameter", "Property 'value' is required and must be a string.");
    }
    if (value.length > MAX_VALUE_LENGTH) {
      throw new AzureHttpError(
        400,
        "BadParameter",
        `The secret value exceeds the maximum of ${MAX_VALUE_LENGTH} characters.`,
      );
    }
    const key = name.toLowerCase();
    let secret = vault.secrets.get(key);
    if (secret?.deleted) {
      throw new AzureHttpError(
        409,
        "Conflict",
        `Secret ${secret.name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
        { innerCode: "ObjectIsDeletedButRecoverable" },
      );
    }
    const now = state.clock.now();
    const attrs = asRecord(body.attributes) ?? {};
    const version: SecretVersion = {
      version: state.ids.hex(16),
      value,
      enabled: attrs.enabled !== false,
      created: now,
      updated: now,
    };
    if (typeof body.contentType === "string") version.contentType = body.contentType;
    const tags = asStringRecord(body.tags);
    if (tags) version.tags = tags;
    if (typeof attrs.nbf === "number") version.notBefore = attrs.nbf;
    if (typeof attrs.exp === "number") version.expires = attrs.exp;
    if (!secret) {
      secret = { name, versions: [] };
      vault.secrets.set(key, secret);
      state.count(RESOURCE_TYPES.secret, "created");
    }
    secret.versions.push(version);
    state.count(RESOURCE_TYPES.secretVersion, "created");
    return { status: 200, body: secretBundle(vault, secret, version, true) };
  }

  #get(
    vault: Vault,
    caller: { oid: string; appId: string; iss: string },
    name: string,
    versionId: string | undefined,
  ) {
    this.#authorize(vault, caller, "getSecret/action", name);
    const secret = vault.secrets.get(name.toLowerCase());
    if (!secret || secret.deleted) throw secretNotFound(name, versionId);
    const v = versionId
      ? secret.versions.find((x) => x.version === versionId.toLowerCase())
      : secret.versions.at(-1);
    if (!v) throw secretNotFound(name, versionId);
    if (!v.enabled) {
      throw new AzureHttpError(403, "Forbidden", "Operation get is not allowed on a disabled secret.", {
        innerCode: "SecretDisabled",
      });
    }
    return { status: 200, body: secretBundle(vault, secret, v, true) };
  }

  async #update(
    vault: Vault,
    caller: { oid: string; appId: string; iss: string },
    name: string,
    versionId: string,
    req: VaultRequest,
  ) {
    this.#authorize(vault, caller, "update/action", name);
    const body = parseJsonBody(await req.readBody());
    const secret = vault.secrets.get(name.toLowerCase());
    if (!secret || secret.deleted) throw secretNotFound(name, versionId);
    const v = versionId
      ? secret.versions.find((x) => x.version === versionId.toLowerCase())
      : secret.versions.at(-1);
    if (!v) throw secretNotFound(name, versionId);
    const attrs = asRecord(body.attributes) ?? {};
    if (typeof attrs.enabled === "boolean") v.enabled = attrs.enabled;
    if (typeof attrs.nbf === "number") v.notBefore = attrs.nbf;
    if (typeof attrs.exp === "number") v.expires = attrs.exp;
    if (typeof body.contentType === "string") v.contentType = body.contentType;
    const tags = asStringRecord(body.tags);
    if (tags) v.tags = tags;
    v.updated = this.#ctx.state.clock.now();
    return { status: 200, body: secretBundle(vault, secret, v, false) };
  }

  #delete(vault: Vault, caller: { oid: string; appId: string; iss: string }, name: string) {
    const { state } = this.#ctx;
    this.#authorize(vault, caller, "delete", name);
    const secret = vault.secrets.get(name.toLowerCase());
    if (!secret || secret.deleted) throw secretNotFound(name);
    const now = state.clock.now();
    secret.deleted = {
      deletedDate: now,
      // Informational only (nothing purges on its own here), so it reads like Azure's: retention days ahead.
      scheduledPurgeDate: now + vault.softDeleteRetentionInDays * 86_400_000,
    };
    return { status: 200, body: deletedBundle(vault, secret) };
  }
}
