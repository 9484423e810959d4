/**
 * metav1.Status bodies as the API server writes them. client-node surfaces
 * them as ApiException with `code` and the raw JSON as `body`, so callers
 * branch on `reason` and read `message`: both follow the real wording.
 */

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface StatusBody {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export class ApiError extends Error {
  readonly status: StatusBody;
  constructor(status: StatusBody) {
    super(status.message ?? status.reason ?? `HTTP ${status.code}`);
    this.name = "ApiError";
    this.status = status;
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): string | undefined {
    return this.status.reason;
  }
}

/** What an error message needs to know about a resource: "deployments.apps" and its group. */
export interface ResourceRef {
  group: string;
  resource: string;
  kind: string;
}

export function qualifiedResource(r: ResourceRef): string {
  return r.group === "" ? r.resource : `${r.resource}.${r.group}`;
}

function failure(code: number, reason: string, message: string, details?: StatusDetails): ApiError {
  const body: StatusBody = {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code,
  };
  if (details) body.details = details;
  return new ApiError(body);
}

function details(r: ResourceRef, name: string | undefined): StatusDetails {
  const d: StatusDetails = {};
  if (name !== undefined && name !== "") d.name = name;
  if (r.group !== "") d.group = r.group;
  d.kind = r.resource;
  return d;
}

export function notFound(r: ResourceRef, name: string): ApiError {
  return failure(404, "NotFound", `${qualifiedResource(r)} "${name}" not found`, details(r, name));
}

export function alreadyExists(r: ResourceRef, name: string): ApiError {
  return failure(409, "AlreadyExists", `${qualifiedResource(r)} "${name}" already exists`, details(r, name));
}

export function conflict(r: ResourceRef, name: string, why: string): ApiError {
  return failure(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedResource(r)} "${name}": ${why}`,
    details(r, name),
  );
}

export const STALE_OBJECT =
  "the object has been modified; please apply your changes to the latest version and try again";

export function applyConflict(message: string, causes: StatusCause[]): ApiError {
  return failure(409, "Conflict", message, { causes });
}

export function forbidden(r: ResourceRef, name: string, why: string): ApiError {
  return failure(
    403,
    "Forbidden",
    `${qualifiedResource(r)} "${name}" is forbidden: ${why}`,
    details(r, name),
  );
}

export function badRequest(message: string): ApiError {
  return failure(400, "BadRequest", message);
}

export function methodNotAllowed(
  message = "the server does not allow this method on the requested resource",
): ApiError {
  return failure(405, "MethodNotAllowed", message, {});
}

export function unsupportedMediaType(accepted: string[]): ApiError {
  return failure(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
    {},
  );
}

export function resourceExpired(message: string): ApiError {
  return failure(410, "Expired", message);
}

export function unauthorized(): ApiError {
  return failure(401, "Unauthorized", "Unauthorized");
}

export function serviceUnavailable(message: string): ApiError {
  return failure(503, "ServiceUnavailable", message);
}

export function internalError(message: string): ApiError {
  return failure(500, "InternalError", `Internal error occurred: ${message}`, {
    causes: [{ message }],
  });
}

export function notFoundPath(): ApiError {
  return failure(404, "NotFound", "the server could not find the requested resource", {});
}

// --- field errors (422 Invalid) ---

export type FieldErrorType =
  | "Required"
  | "Invalid"
  | "Forbidden"
  | "NotSupported"
  | "Duplicate"
  | "TooLong"
  | "NotFound";

export interface FieldError {
  type: FieldErrorType;
  field: string;
  value?: unknown;
  /** The value as Go would print it, when goValue's guess is not close enough. */
  valueText?: string;
  detail?: string;
}

const CAUSE_REASON: Record<FieldErrorType, string> = {
  Required: "FieldValueRequired",
  Invalid: "FieldValueInvalid",
  Forbidden: "FieldValueForbidden",
  NotSupported: "FieldValueNotSupported",
  Duplicate: "FieldValueDuplicate",
  TooLong: "FieldValueTooLong",
  NotFound: "FieldValueNotFound",
};

/** Go's %#v, roughly: how field.Error prints the offending value. */
export function goValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return `[]string{${value.map((v) => goValue(v)).join(", ")}}`;
  const entries = Object.entries(value as Record<string, unknown>)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${JSON.stringify(k)}:${goValue(v)}`);
  return `map[string]string{${entries.join(", ")}}`;
}

function fieldErrorBody(e: FieldError): string {
  switch (e.type) {
    case "Required":
      return `Required value${e.detail ? `: ${e.detail}` : ""}`;
    case "Forbidden":
      return `Forbidden${e.detail ? `: ${e.detail}` : ""}`;
    case "NotSupported":
      return `Unsupported value: ${goValue(e.value)}${e.detail ? `: ${e.detail}` : ""}`;
    case "Duplicate":
      return `Duplicate value: ${goValue(e.value)}`;
    case "TooLong":
      return `Too long: ${e.detail ?? ""}`;
    case "NotFound":
      return `Not found: ${e.valueText ?? goValue(e.value)}`;
    default:
      return `Invalid value: ${e.valueText ?? goValue(e.value)}${e.detail ? `: ${e.detail}` : ""}`;
  }
}

export function fieldErrorString(e: FieldError): string {
  return `${e.field}: ${fieldErrorBody(e)}`;
}

/** 422 with causes, e.g. `Deployment.apps "web" is invalid: spec.selector: Required value`. */
export function invalid(kind: string, group: string, name: string, errors: FieldError[]): ApiError {
  const qualifiedKind = group === "" ? kind : `${kind}.${group}`;
  const texts = errors.map(fieldErrorString);
  const joined = texts.length === 1 ? (texts[0] ?? "") : `[${texts.join(", ")}]`;
  const d: StatusDetails = { name, kind, causes: [] };
  if (group !== "") d.group = group;
  d.causes = errors.map((e) => ({
    reason: CAUSE_REASON[e.type],
    message: fieldErrorBody(e),
    field: e.field,
  }));
  return failure(422, "Invalid", `${qualifiedKind} "${name}" is invalid: ${joined}`, d);
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}
