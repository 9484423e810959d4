import type { SecretClient, SecretProperties } from "@azure/keyvault-secrets";
import type { Clock } from "../../src/clock.ts";
import { ExternalError } from "../../src/errors.ts";
import type { KeyVaultPort, SecretVersionInfo, Tags } from "../../src/ports/azure.ts";
import { SecretValue } from "../../src/secret-value.ts";
import { hintFor, isNotFound, toAzureError } from "./errors.ts";

function info(p: SecretProperties): SecretVersionInfo {
  return {
    name: p.name,
    version: p.version ?? "",
    enabled: p.enabled !== false,
    createdOn: p.createdOn?.getTime(),
    updatedOn: p.updatedOn?.getTime(),
    tags: p.tags ?? {},
  };
}

/**
 * The SDK's pager drops Key Vault's error body ("Pagination failed with
 * unexpected statusCode 403"), losing the inner code. Lab vaults use RBAC
 * authorisation and public access, so a 403 there is an RBAC denial, most
 * often a role assignment still propagating.
 */
function pagedError(error: unknown, what: string, now: number, signal: AbortSignal): Error {
  const mapped = toAzureError(error, what, now, signal);
  if (mapped instanceof ExternalError && mapped.status === 403 && mapped.code === "Forbidden") {
    const hint = hintFor("ForbiddenByRbac", "");
    return new ExternalError("azure", "ForbiddenByRbac", `${what}: Key Vault denied access (403)`, {
      status: 403,
      ...(hint ? { hint } : {}),
    });
  }
  return mapped;
}

function newestFirst(a: SecretVersionInfo, b: SecretVersionInfo): number {
  return (b.createdOn ?? 0) - (a.createdOn ?? 0);
}

/**
 * The Key Vault data plane on @azure/keyvault-secrets. Versions are read from
 * their properties, so following a rotation never fetches a value; values
 * are fetched only for a rollback and handed on as SecretValue.
 */
export class KeyVaultSecrets implements KeyVaultPort {
  readonly #clientFor: (vaultUri: string) => SecretClient;
  readonly #clients = new Map<string, SecretClient>();

  readonly #clock: Clock;

  /** `clock` reads Retry-After dates. */
  constructor(clientFor: (vaultUri: string) => SecretClient, clock: Clock) {
    this.#clientFor = clientFor;
    this.#clock = clock;
  }

  #client(vaultUri: string): SecretClient {
    let client = this.#clients.get(vaultUri);
    if (!client) {
      client = this.#clientFor(vaultUri);
      this.#clients.set(vaultUri, client);
    }
    return client;
  }

  async setSecret(
    vaultUri: string,
    name: string,
    value: SecretValue,
    tags: Tags,
    signal: AbortSignal,
  ): Promise<SecretVersionInfo> {
    try {
      const s = await this.#client(vaultUri).setSecret(name, value.reveal(), { tags, abortSignal: signal });
      return info(s.properties);
    } catch (error) {
      throw toAzureError(error, `write secret ${name}`, this.#clock.now(), signal);
    }
  }

  async listVersions(vaultUri: string, name: string, signal: AbortSignal): Promise<SecretVersionInfo[]> {
    const versions: SecretVersionInfo[] = [];
    try {
      for await (const p of this.#client(vaultUri).listPropertiesOfSecretVersions(name, {
        abortSignal: signal,
      })) {
        versions.push(info(p));
      }
    } catch (error) {
      if (isNotFound(error)) return [];
      throw pagedError(error, `list versions of ${name}`, this.#clock.now(), signal);
    }
    return versions.sort(newestFirst);
  }

  /**
   * The version Key Vault serves as current. Asked of the vault itself:
   * `createdOn` has one-second resolution, so ordering versions by it cannot
   * tell apart two writes in the same second. The value that comes with the
   * answer is dropped here and never leaves this method.
   */
  async currentVersion(
    vaultUri: string,
    name: string,
    signal: AbortSignal,
  ): Promise<SecretVersionInfo | undefined> {
    try {
      const s = await this.#client(vaultUri).getSecret(name, { abortSignal: signal });
      return info(s.properties);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw toAzureError(error, `read secret ${name}`, this.#clock.now(), signal);
    }
  }

  async listSecrets(vaultUri: string, signal: AbortSignal): Promise<SecretVersionInfo[]> {
    const names: string[] = [];
    try {
      for await (const p of this.#client(vaultUri).listPropertiesOfSecrets({ abortSignal: signal })) {
        if (p.enabled !== false) names.push(p.name);
      }
    } catch (error) {
      throw pagedError(error, "list secrets", this.#clock.now(), signal);
    }
    const current = await Promise.all(names.map((n) => this.currentVersion(vaultUri, n, signal)));
    return current
      .filter((v): v is SecretVersionInfo => v !== undefined)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async getValue(vaultUri: string, name: string, version: string, signal: AbortSignal): Promise<SecretValue> {
    try {
      const s = await this.#client(vaultUri).getSecret(name, { version, abortSignal: signal });
      if (s.value === undefined)
        throw new ExternalError("azure", "SecretHasNoValue", `Version ${version} of ${name} has no value.`);
      return new SecretValue(s.value);
    } catch (error) {
      throw toAzureError(error, `read version ${version.slice(0, 8)} of ${name}`, this.#clock.now(), signal);
    }
  }
}
