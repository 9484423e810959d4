import { parse as parseYaml } from "yaml";
import {
  type AzureHttpClient,
  azcoreResponseError,
  azidentityAuthError,
  NetworkError,
} from "../azure-http.ts";
import { isPlainObject } from "../util.ts";

/**
 * The Azure Key Vault provider for the Secrets Store CSI driver
 * (secrets-store-csi-driver-provider-azure), workload identity path: the
 * pod's service-account token is exchanged at the Entra ID token endpoint
 * (client_credentials with a client_assertion, client_id from the
 * SecretProviderClass) for a Key Vault token, and each object is read from
 * the vault's data plane. Failures carry the provider's wording
 * ("failed to get objectType:secret, objectName:…") around the Go SDK's
 * error text, which is what surfaces in FailedMount events.
 */

export const TOKEN_AUDIENCE = "api://AzureADTokenExchange";
const VAULT_API_VERSION = "7.5";

export interface KeyVaultObject {
  objectName: string;
  objectAlias?: string;
  objectVersion?: string;
  objectType: string;
}

export interface MountedObject {
  /** "secret/NAME" */
  id: string;
  version: string;
  /** File name in the mount (alias or name). */
  path: string;
  content: string;
}

export interface ProviderRequest {
  parameters: Record<string, string>;
  podName: string;
  podNamespace: string;
  /** The pod's service-account token for TOKEN_AUDIENCE, or undefined if none could be had. */
  serviceAccountToken: string | undefined;
}

export interface ProviderWorld {
  authorityHost: string;
  vaultUri(name: string): string | undefined;
}

/** Parses `objects` the way the provider does: a YAML `array:` of YAML documents. */
export function parseObjects(text: string): KeyVaultObject[] {
  let outer: unknown;
  try {
    outer = parseYaml(text);
  } catch (e) {
    throw new Error(`failed to yaml unmarshal objects, error: ${(e as Error).message}`);
  }
  const array = isPlainObject(outer) && Array.isArray(outer.array) ? outer.array : [];
  return array.map((item, i) => {
    let obj: unknown;
    try {
      obj = typeof item === "string" ? parseYaml(item) : item;
    } catch (e) {
      throw new Error(`unmarshal failed for keyVaultObjects at index ${i}, error: ${(e as Error).message}`);
    }
    const o = isPlainObject(obj) ? obj : {};
    const kv: KeyVaultObject = {
      objectName: String(o.objectName ?? "").trim(),
      objectType: String(o.objectType ?? "").trim(),
    };
    if (o.objectAlias !== undefined) kv.objectAlias = String(o.objectAlias).trim();
    if (o.objectVersion !== undefined) kv.objectVersion = String(o.objectVersion).trim();
    return kv;
  });
}

function wrapObjectError(o: KeyVaultObject, message: string): Error {
  return new Error(
    `failed to get objectType:${o.objectType}, objectName:${o.objectName}, objectVersion:${o.objectVersion ?? ""}: ${message}`,
  );
}

export class AzureKeyVaultProvider {
  private readonly http: AzureHttpClient;
  private readonly world: ProviderWorld;
  /** Requests made, for the inventory. */
  readonly counters = { tokenRequests: 0, vaultRequests: 0 };

  constructor(http: AzureHttpClient, world: ProviderWorld) {
    this.http = http;
    this.world = world;
  }

  /** GetSecretsStoreObjectContent. Throws with the provider's error text. */
  async mount(req: ProviderRequest): Promise<MountedObject[]> {
    const p = req.parameters;
    if (!req.podName) throw new Error("pod name is not provided");
    if (!req.podNamespace) throw new Error("pod namespace is not provided");
    const keyvaultName = (p.keyvaultName ?? "").trim();
    const tenantId = (p.tenantId ?? "").trim();
    const clientId = (p.clientID ?? "").trim();
    if ((p.usePodIdentity ?? "false") === "true" || (p.useVMManagedIdentity ?? "false") === "true") {
      throw new Error(
        "failed to build auth config for mode PodIdentity: pod identity and VM managed identity are not modelled by the emulator; use workload identity",
      );
    }
    if (keyvaultName === "") throw new Error("keyvaultName is not provided");
    if (tenantId === "") throw new Error("tenantId is not provided");
    if (clientId === "" || req.serviceAccountToken === undefined) {
      // Without a workload identity client id the provider falls back to a service principal in nodePublishSecretRef.
      throw new Error(
        "failed to build auth config for mode None: failed to get credentials, nodePublishSecretRef secret is not set",
      );
    }
    const objectsText = p.objects ?? "";
    if (objectsText.trim() === "") throw new Error("objects is not set");
    const objects = parseObjects(objectsText);
    for (const o of objects) {
      if (o.objectName === "") throw wrapObjectError(o, "object name is not set");
      if (!["secret", "key", "cert"].includes(o.objectType)) {
        throw wrapObjectError(o, `invalid objectType: ${o.objectType}, should be one of [secret key cert]`);
      }
      if (o.objectType !== "secret") {
        throw wrapObjectError(o, `objectType ${o.objectType} is not modelled by the emulator (secrets only)`);
      }
    }
    if (objects.length === 0) return [];
    if (keyvaultName.length < 3 || keyvaultName.length > 24) {
      throw new Error(
        `failed to get vault: Invalid vault name: "${keyvaultName}", must be between 3 and 24 chars`,
      );
    }
    if (!/^[-A-Za-z0-9]+$/.test(keyvaultName)) {
      throw new Error(
        `failed to get vault: Invalid vault name: "${keyvaultName}", must match [-a-zA-Z0-9]{3,24}`,
      );
    }
    const vaultBase = this.world.vaultUri(keyvaultName) ?? `https://${keyvaultName}.vault.azure.net/`;
    const credential = new WorkloadIdentityCredential(
      this.http,
      this.world.authorityHost,
      tenantId,
      clientId,
      req.serviceAccountToken,
      this.counters,
    );
    const out: MountedObject[] = [];
    for (const o of objects) {
      const version = o.objectVersion && o.objectVersion !== "latest" ? o.objectVersion : "";
      const url = `${vaultBase.replace(/\/+$/, "")}/secrets/${encodeURIComponent(o.objectName)}/${version}?api-version=${VAULT_API_VERSION}`;
      let res: Awaited<ReturnType<AzureHttpClient["send"]>>;
      try {
        res = await credential.authorizedGet(url);
      } catch (e) {
        throw wrapObjectError(o, (e as Error).message);
      }
      this.counters.vaultRequests++;
      if (res.status < 200 || res.status > 299)
        throw wrapObjectError(o, azcoreResponseError("GET", url, res));
      let body: { value?: string; id?: string };
      try {
        body = JSON.parse(res.body) as { value?: string; id?: string };
      } catch {
        throw wrapObjectError(o, "secret value is nil");
      }
      if (body.value === undefined) throw new Error("secret value is nil");
      if (body.id === undefined) throw new Error("secret id is nil");
      const idVersion = body.id.replace(/\/+$/, "").split("/").pop() ?? "";
      out.push({
        id: `${o.objectType}/${o.objectName}`,
        version: idVersion,
        path: o.objectAlias && o.objectAlias !== "" ? o.objectAlias : o.objectName,
        content: body.value,
      });
    }
    return out;
  }
}

/**
 * azidentity's ClientAssertionCredential behind the Key Vault challenge
 * policy: the first request goes without a token, the 401 challenge names
 * the resource, then the assertion is exchanged once and reused.
 */
class WorkloadIdentityCredential {
  private readonly http: AzureHttpClient;
  private readonly authorityHost: string;
  private readonly tenantId: string;
  private readonly clientId: string;
  private readonly assertion: string;
  private readonly counters: { tokenRequests: number };
  private token: string | undefined;
  private scope: string | undefined;

  constructor(
    http: AzureHttpClient,
    authorityHost: string,
    tenantId: string,
    clientId: string,
    assertion: string,
    counters: { tokenRequests: number },
  ) {
    this.http = http;
    this.authorityHost = authorityHost.replace(/\/+$/, "");
    this.tenantId = tenantId;
    this.clientId = clientId;
    this.assertion = assertion;
    this.counters = counters;
  }

  async authorizedGet(url: string) {
    if (this.token === undefined) {
      if (this.scope === undefined) {
        const challenge = await this.http.send("GET", url, { Accept: "application/json" });
        if (challenge.status !== 401) return challenge;
        this.scope = scopeFromChallenge(String(challenge.headers["www-authenticate"] ?? ""));
      }
      this.token = await this.getToken(this.scope);
    }
    return this.http.send("GET", url, { Accept: "application/json", Authorization: `Bearer ${this.token}` });
  }

  private async getToken(scope: string): Promise<string> {
    const url = `${this.authorityHost}/${encodeURIComponent(this.tenantId)}/oauth2/v2.0/token`;
    const form = new URLSearchParams({
      client_id: this.clientId,
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: this.assertion,
      grant_type: "client_credentials",
      scope,
    }).toString();
    this.counters.tokenRequests++;
    let res: Awaited<ReturnType<AzureHttpClient["send"]>>;
    try {
      res = await this.http.send(
        "POST",
        url,
        { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        form,
      );
    } catch (e) {
      if (e instanceof NetworkError) throw new Error(`ClientAssertionCredential: ${e.message}`);
      throw e;
    }
    if (res.status !== 200) throw new Error(azidentityAuthError("ClientAssertionCredential", url, res));
    const body = JSON.parse(res.body) as { access_token?: string };
    if (!body.access_token) throw new Error(azidentityAuthError("ClientAssertionCredential", url, res));
    return body.access_token;
  }
}

/** The scope the Key Vault challenge asks for: `resource` (or `scope`) plus /.default. */
export function scopeFromChallenge(header: string): string {
  const scope = /scope="([^"]+)"/.exec(header)?.[1];
  if (scope) return scope;
  const resource = /resource="([^"]+)"/.exec(header)?.[1] ?? "https://vault.azure.net";
  return resource.endsWith("/.default") ? resource : `${resource.replace(/\/+$/, "")}/.default`;
}
