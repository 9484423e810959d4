import {
  type ArmContext,
  type ArmRequest,
  authorize,
  list,
  listInResourceGroup,
  listInSubscription,
  matchPath,
  methodNotAllowed,
  notFound,
  requireLocation,
  requireSubscription,
  tagsOf,
} from "./arm-context.ts";
import { AzureHttpError, asRecord, type EmulatorResponse } from "./http.ts";
import { type FederatedCredential, RESOURCE_TYPES, type UserAssignedIdentity } from "./state.ts";

const ID_READ = "Microsoft.ManagedIdentity/userAssignedIdentities/read";
const ID_WRITE = "Microsoft.ManagedIdentity/userAssignedIdentities/write";
const ID_DELETE = "Microsoft.ManagedIdentity/userAssignedIdentities/delete";
const FIC_READ = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read";
const FIC_WRITE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write";
const FIC_DELETE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete";
/** Entra's limit of federated credentials per identity. */
const MAX_CREDENTIALS = 20;

export function identityJson(identity: UserAssignedIdentity, tenantId: string): Record<string, unknown> {
  return {
    id: identity.id,
    name: identity.name,
    type: RESOURCE_TYPES.identity,
    location: identity.location,
    tags: identity.tags,
    properties: {
      tenantId,
      principalId: identity.principalId,
      clientId: identity.clientId,
      isolationScope: "None",
    },
  };
}

function credentialJson(fic: FederatedCredential): Record<string, unknown> {
  return {
    id: fic.id,
    name: fic.name,
    type: RESOURCE_TYPES.federatedCredential,
    properties: { issuer: fic.issuer, subject: fic.subject, audiences: [...fic.audiences] },
  };
}

const IDENTITY_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$/;
const CREDENTIAL_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,119}$/;

function identityKey(sub: string, rg: string, name: string): string {
  return `/subscriptions/${sub}/resourcegroups/${rg}/providers/microsoft.managedidentity/userassignedidentities/${name}`.toLowerCase();
}

export async function msiRoutes(ctx: ArmContext, req: ArmRequest): Promise<EmulatorResponse | undefined> {
  const { state } = ctx;
  const s = req.segments;

  let p = matchPath(s, "subscriptions/{sub}/providers/Microsoft.ManagedIdentity/userAssignedIdentities");
  if (p) {
    return listInSubscription(
      ctx,
      req,
      p.sub ?? "",
      ID_READ,
      state.identities.values(),
      (x) => x.subscriptionId,
      (i) => identityJson(i, state.tenantId),
    );
  }

  p = matchPath(
    s,
    "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities",
  );
  if (p) {
    return listInResourceGroup(ctx, req, p.sub ?? "", p.rg ?? "", ID_READ, state.identities.values(), (i) =>
      identityJson(i, state.tenantId),
    );
  }

  p = matchPath(
    s,
    "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
  );
  if (p) {
    const sub = p.sub ?? "";
    const rg = p.rg ?? "";
    const name = p.name ?? "";
    requireSubscription(ctx, sub);
    const key = identityKey(sub, rg, name);
    switch (req.method) {
      case "GET": {
        state.requireResourceGroup(sub, rg, false);
        authorize(ctx, req, ID_READ, key);
        await ctx.delay("armRead");
        const identity = state.identities.get(key);
        if (!identity) throw notFound(RESOURCE_TYPES.identity, name, rg);
        return { status: 200, body: identityJson(identity, state.tenantId) };
      }
      case "PUT":
      case "PATCH": {
        const group = state.requireResourceGroup(sub, rg, true);
        authorize(ctx, req, ID_WRITE, key);
        if (!IDENTITY_NAME.test(name)) {
          throw new AzureHttpError(
            400,
            "InvalidResourceName",
            `Resource name '${name}' is invalid. The name can be 3-128 characters long, must start with a letter or number, and can contain only letters, numbers, hyphens and underscores.`,
          );
        }
        const body = await req.body();
        const existing = state.identities.get(key);
        if (existing) {
          await ctx.delay("armWrite");
          if (body.tags !== undefined) existing.tags = tagsOf(body.tags);
          return { status: 200, body: identityJson(existing, state.tenantId) };
        }
        if (req.method === "PATCH") throw notFound(RESOURCE_TYPES.identity, name, rg);
        const location = requireLocation(body);
        const tags = tagsOf(body.tags);
        await ctx.delay("identityCreate");
        const raced = state.identities.get(key);
        if (raced) return { status: 200, body: identityJson(raced, state.tenantId) };
        const identity = state.createIdentity({
          subscriptionId: sub,
          resourceGroup: group.name,
          name,
          location,
          tags,
        });
        return { status: 201, body: identityJson(identity, state.tenantId) };
      }
      case "DELETE": {
        state.requireResourceGroup(sub, rg, false);
        authorize(ctx, req, ID_DELETE, key);
        await ctx.delay("armWrite");
        const identity = state.identities.get(key);
        if (!identity) return { status: 204 };
        state.deleteIdentity(identity);
        return { status: 200 };
      }
      default:
        methodNotAllowed(req.method);
    }
  }

  p = matchPath(
    s,
    "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}/federatedIdentityCredentials",
  );
  if (p) {
    const sub = p.sub ?? "";
    const rg = p.rg ?? "";
    requireSubscription(ctx, sub);
    if (req.method !== "GET") methodNotAllowed(req.method);
    state.requireResourceGroup(sub, rg, false);
    const identity = state.identities.get(identityKey(sub, rg, p.name ?? ""));
    if (!identity) throw notFound(RESOURCE_TYPES.identity, p.name ?? "", rg);
    authorize(ctx, req, FIC_READ, identity.id);
    await ctx.delay("armRead");
    return list([...identity.federatedCredentials.values()].map(credentialJson));
  }

  p = matchPath(
    s,
    "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}/federatedIdentityCredentials/{fic}",
  );
  if (p) {
    const sub = p.sub ?? "";
    const rg = p.rg ?? "";
    const ficName = p.fic ?? "";
    requireSubscription(ctx, sub);
    state.requireResourceGroup(sub, rg, req.method === "PUT");
    const identity = state.identities.get(identityKey(sub, rg, p.name ?? ""));
    if (!identity) throw notFound(RESOURCE_TYPES.identity, p.name ?? "", rg);
    const ficKey = ficName.toLowerCase();
    switch (req.method) {
      case "GET": {
        authorize(ctx, req, FIC_READ, identity.id);
        await ctx.delay("armRead");
        const fic = identity.federatedCredentials.get(ficKey);
        if (!fic) throw notFound(RESOURCE_TYPES.federatedCredential, `${identity.name}/${ficName}`, rg);
        return { status: 200, body: credentialJson(fic) };
      }
      case "PUT":
        authorize(ctx, req, FIC_WRITE, identity.id);
        return putCredential(ctx, identity, ficName, await req.body());
      case "DELETE": {
        authorize(ctx, req, FIC_DELETE, identity.id);
        return writeExclusively(identity, async () => {
          await ctx.delay("armWrite");
          if (!identity.federatedCredentials.delete(ficKey)) return { status: 204 };
          state.count(RESOURCE_TYPES.federatedCredential, "deleted");
          return { status: 200 };
        });
      }
      default:
        methodNotAllowed(req.method);
    }
  }
  return undefined;
}

/** Entra refuses concurrent credential writes on one identity; so does the emulator. */
async function writeExclusively(
  identity: UserAssignedIdentity,
  write: () => Promise<EmulatorResponse>,
): Promise<EmulatorResponse> {
  if (identity.credentialWriteInFlight) {
    throw new AzureHttpError(
      409,
      "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
      `Too many Federated Identity Credentials are written concurrently for the managed identity '${identity.id}'. Write them one after another.`,
    );
  }
  identity.credentialWriteInFlight = true;
  try {
    return await write();
  } finally {
    identity.credentialWriteInFlight = false;
  }
}

function validateCredential(body: Record<string, unknown>): {
  issuer: string;
  subject: string;
  audiences: string[];
} {
  const props = asRecord(body.properties);
  if (!props) throw new AzureHttpError(400, "BadRequest", "The request body must contain 'properties'.");
  const issuer = props.issuer;
  let issuerUrl: URL | undefined;
  try {
    issuerUrl = typeof issuer === "string" ? new URL(issuer) : undefined;
  } catch {
    issuerUrl = undefined;
  }
  if (typeof issuer !== "string" || !issuerUrl || issuerUrl.protocol !== "https:" || issuer.length > 600) {
    throw new AzureHttpError(
      400,
      "BadRequest",
      `The issuer '${String(issuer ?? "")}' is not valid: it must be an https URL of at most 600 characters.`,
    );
  }
  const subject = props.subject;
  if (typeof subject !== "string" || subject.trim() === "" || subject.length > 600) {
    throw new AzureHttpError(
      400,
      "BadRequest",
      "The subject must be a non-empty string of at most 600 characters.",
    );
  }
  const audiences = props.audiences;
  if (
    !Array.isArray(audiences) ||
    audiences.length !== 1 ||
    typeof audiences[0] !== "string" ||
    audiences[0].trim() === "" ||
    audiences[0].length > 600
  ) {
    throw new AzureHttpError(
      400,
      "BadRequest",
      "The audiences must hold exactly one non-empty value (for Microsoft Entra ID, 'api://AzureADTokenExchange').",
    );
  }
  return { issuer, subject, audiences: [audiences[0]] };
}

async function putCredential(
  ctx: ArmContext,
  identity: UserAssignedIdentity,
  name: string,
  body: Record<string, unknown>,
): Promise<EmulatorResponse> {
  const { state } = ctx;
  if (!CREDENTIAL_NAME.test(name)) {
    throw new AzureHttpError(
      400,
      "InvalidResourceName",
      `Resource name '${name}' is invalid. The name can be 3-120 characters long, must start with a letter or number, and can contain only letters, numbers, hyphens and underscores.`,
    );
  }
  const wanted = validateCredential(body);
  const key = name.toLowerCase();
  for (const other of identity.federatedCredentials.values()) {
    if (
      other.name.toLowerCase() !== key &&
      other.issuer === wanted.issuer &&
      other.subject === wanted.subject
    ) {
      throw new AzureHttpError(
        400,
        "BadRequest",
        `The federated identity credential '${other.name}' of this identity already has issuer '${wanted.issuer}' and subject '${wanted.subject}'.`,
      );
    }
  }
  if (!identity.federatedCredentials.has(key) && identity.federatedCredentials.size >= MAX_CREDENTIALS) {
    throw new AzureHttpError(
      400,
      "BadRequest",
      `The identity '${identity.name}' already has ${MAX_CREDENTIALS} federated identity credentials, the most it can have.`,
    );
  }
  return writeExclusively(identity, async () => {
    await ctx.delay("federatedCredentialCreate");
    const existing = identity.federatedCredentials.get(key);
    const fic: FederatedCredential = {
      id: `${identity.id}/federatedIdentityCredentials/${existing?.name ?? name}`,
      name: existing?.name ?? name,
      ...wanted,
    };
    identity.federatedCredentials.set(key, fic);
    if (!existing) state.count(RESOURCE_TYPES.federatedCredential, "created");
    return { status: existing ? 200 : 201, body: credentialJson(fic) };
  });
}
