import { CancelledError, ExternalError } from "../../src/errors.ts";

/**
 * Azure failures as the core sees them: Azure's own error code, whether it is
 * worth retrying (and after how long), and a hint a person can act on. Never
 * includes request bodies, so a secret value cannot leak through an error.
 */

const HINTS: Array<[RegExp, string]> = [
  [
    /QuotaExceeded|OperationNotAllowed.*quota|InsufficientQuota/i,
    "The subscription's vCPU quota is used up in this region: request more quota for Standard_B2s, or set AZURE_LOCATION to another region.",
  ],
  [
    /SkuNotAvailable|LocationNotAvailableForResourceType|NoRegisteredProviderFound|RegionDoesNotAllowProvisioning|VM size of .* is not allowed in your subscription/i,
    "This region does not offer what the lab needs to this subscription: set AZURE_LOCATION to another region, or LABOPS_VM_SIZE to a size offered here.",
  ],
  [
    /AuthorizationFailed|LinkedAuthorizationFailed/i,
    "labops' identity lacks a permission: it needs Contributor on the labs' scope and Role Based Access Control Administrator limited to the Key Vault roles (see infra/deploy).",
  ],
  [/VaultAlreadyExists|VaultNameNotValid/i, "Key Vault names are global and stay taken while soft-deleted."],
  [/InvalidResourceName/i, "The name breaks Azure's naming rules for this resource."],
  [
    /ForbiddenByRbac/i,
    "A new role assignment takes up to two minutes to reach Key Vault; labops keeps retrying meanwhile.",
  ],
  [/PrincipalNotFound/i, "A new identity takes a moment to replicate in Entra ID; labops retries."],
  [/SubscriptionNotFound|InvalidSubscriptionId/i, "Check AZURE_SUBSCRIPTION_ID."],
];

const RETRYABLE_CODES = new Set([
  "TooManyRequests",
  "RetryableError",
  "InternalServerError",
  "ServiceUnavailable",
  "GatewayTimeout",
  "PrincipalNotFound",
  "OperationNotAllowed",
  "Conflict",
  "AnotherOperationInProgress",
  "EtagMismatch",
  "REQUEST_SEND_ERROR",
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
]);

interface RestLike {
  statusCode?: number;
  code?: string;
  message?: string;
  name?: string;
  response?: { headers?: { get(name: string): string | undefined }; bodyAsText?: string | null };
  details?: unknown;
}

type ErrorBody = { error?: { innerError?: { code?: string }; innererror?: { code?: string } } };

function innerCode(error: RestLike): string | undefined {
  // Key Vault puts the specific reason (ForbiddenByRbac) under error.innerError.code.
  const fromBody = (body: ErrorBody | undefined) =>
    body?.error?.innerError?.code ?? body?.error?.innererror?.code;
  const fromDetails = fromBody(error.details as ErrorBody | undefined);
  if (fromDetails) return fromDetails;
  const text = error.response?.bodyAsText;
  if (!text) return undefined;
  try {
    return fromBody(JSON.parse(text) as ErrorBody);
  } catch {
    return undefined;
  }
}

/** A Retry-After header (seconds, or an HTTP date read against `now`) as milliseconds to wait. */
export function retryAfterMs(header: string | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function hintFor(code: string, message: string): string | undefined {
  const text = `${code} ${message}`;
  return HINTS.find(([pattern]) => pattern.test(text))?.[1];
}

/** `now` (the adapter's clock) reads a Retry-After given as a date. */
export function toAzureError(error: unknown, what: string, now: number, signal?: AbortSignal): Error {
  if (signal?.aborted || (error instanceof Error && error.name === "AbortError")) return new CancelledError();
  if (error instanceof ExternalError || error instanceof CancelledError) return error;
  const e = (typeof error === "object" && error !== null ? error : {}) as RestLike;
  const status = e.statusCode;
  const code = innerCode(e) ?? e.code ?? (status ? `Http${status}` : "AzureError");
  const message = (e.message ?? String(error)).split("\n")[0]?.slice(0, 300) ?? "";
  const after = retryAfterMs(e.response?.headers?.get("retry-after"), now);
  const retryable =
    status === 429 ||
    (status !== undefined && status >= 500) ||
    RETRYABLE_CODES.has(code) ||
    (status === 409 && /another operation|in progress|being (created|updated|deleted)/i.test(message));
  const hint = hintFor(code, message);
  return new ExternalError("azure", code, `${what}: ${message}`, {
    ...(status !== undefined ? { status } : {}),
    ...(after !== undefined ? { retryAfterMs: after } : {}),
    retryable,
    ...(hint ? { hint } : {}),
    // No `cause`: a RestError holds its request, whose body may be a secret value.
  });
}

export function isNotFound(error: unknown): boolean {
  const e = error as RestLike;
  return e?.statusCode === 404 || (error instanceof ExternalError && error.status === 404);
}
