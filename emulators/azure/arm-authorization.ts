import {
  type ArmContext,
  type ArmRequest,
  authorize,
  isoTime,
  list,
  matchPath,
  methodNotAllowed,
  notFound,
  requireSubscription,
} from "./arm-context.ts";
import { AzureHttpError, asRecord, type EmulatorResponse } from "./http.ts";
import { GUID_PATTERN } from "./random.ts";
import { BUILT_IN_ROLES, findRole, type RoleDefinition, scopeCovers } from "./rbac.ts";
import { RESOURCE_TYPES, type RoleAssignment } from "./state.ts";

const RA_READ = "Microsoft.Authorization/roleAssignments/read";
const RA_WRITE = "Microsoft.Authorization/roleAssignments/write";
const RA_DELETE = "Microsoft.Authorization/roleAssignments/delete";

/** Splits `/{scope}/providers/Microsoft.Authorization/{kind}/...` into the scope and what follows. */
function splitScope(
  segments: readonly string[],
  kind: string,
): { scope: string; rest: string[] } | undefined {
  for (let i = 0; i + 2 < segments.length; i++) {
    if (
      segments[i]?.toLowerCase() === "providers" &&
      segments[i + 1]?.toLowerCase() === "microsoft.authorization" &&
      segments[i + 2]?.toLowerCase() === kind.toLowerCase()
    ) {
      const scope = `/${segments.slice(0, i).join("/")}`;
      return { scope: scope === "/" ? "/" : scope, rest: segments.slice(i + 3) };
    }
  }
  return undefined;
}

export function roleDefinitionJson(role: RoleDefinition, scope: string): Record<string, unknown> {
  const prefix = scope === "/" ? "" : scope;
  return {
    id: `${prefix}/providers/Microsoft.Authorization/roleDefinitions/${role.guid}`,
    name: role.guid,
    type: "Microsoft.Authorization/roleDefinitions",
    properties: {
      roleName: role.roleName,
      type: "BuiltInRole",
      description: role.description,
      assignableScopes: ["/"],
      permissions: [
        {
          actions: role.actions,
          notActions: role.notActions,
          dataActions: role.dataActions,
          notDataActions: role.notDataActions,
        },
      ],
    },
  };
}

export function roleAssignmentJson(ra: RoleAssignment): Record<string, unknown> {
  return {
    properties: {
      roleDefinitionId: ra.roleDefinitionId,
      principalId: ra.principalId,
      principalType: ra.principalType,
      scope: ra.scope,
      condition: ra.condition ?? null,
      conditionVersion: ra.conditionVersion ?? null,
      createdOn: isoTime(ra.createdOn),
      updatedOn: isoTime(ra.createdOn),
      createdBy: ra.createdBy,
      updatedBy: ra.createdBy,
      delegatedManagedIdentityResourceId: null,
      description: ra.description ?? null,
    },
    id: ra.id,
    type: RESOURCE_TYPES.roleAssignment,
    name: ra.name,
  };
}

/**
 * 404 unless every level of `scope` exists (subscription, resource group,
 * resource). A scope below a resource (`<cluster id>/namespaces/lab-a`, the
 * scope of Azure RBAC for Kubernetes in one namespace; a vault's secret)
 * needs the resource only: the names under it are not ARM resources, and
 * ARM's 404 for a missing one names the resource, not the scope (as in
 * Azure/azure-cli#15243: a container scope under a missing storage account
 * answers "The Resource 'Microsoft.Storage/storageAccounts/mystorage' under
 * resource group 'MyRG' was not found").
 */
function requireScope(ctx: ArmContext, scope: string): void {
  if (scope === "/") return;
  const segs = scope.split("/").filter(Boolean);
  const sub = matchPath(segs.slice(0, 2), "subscriptions/{sub}")?.sub;
  if (!sub) throw new AzureHttpError(400, "InvalidScope", `The scope '${scope}' is not valid.`);
  requireSubscription(ctx, sub);
  if (segs.length === 2) return;
  const rg = matchPath(segs.slice(0, 4), "subscriptions/{sub}/resourceGroups/{rg}")?.rg;
  if (!rg) throw new AzureHttpError(400, "InvalidScope", `The scope '${scope}' is not valid.`);
  ctx.state.requireResourceGroup(sub, rg, false);
  if (segs.length === 4) return;
  // `/providers/{namespace}/{type}/{name}` and then `{childType}/{childName}` pairs.
  if (segs[4]?.toLowerCase() !== "providers" || segs.length < 8 || segs.length % 2 !== 0) {
    throw new AzureHttpError(400, "InvalidScope", `The scope '${scope}' is not valid.`);
  }
  const id = `/${segs.slice(0, 8).join("/")}`.toLowerCase();
  const { state } = ctx;
  const exists = state.vaults.has(id) || state.clusters.has(id) || state.identities.has(id);
  if (!exists) throw notFound(`${segs[5]}/${segs[6]}`, segs[7] ?? "", rg);
}

export async function authorizationRoutes(
  ctx: ArmContext,
  req: ArmRequest,
): Promise<EmulatorResponse | undefined> {
  const { state } = ctx;
  const definitions = splitScope(req.segments, "roleDefinitions");
  if (definitions) {
    if (req.method !== "GET") methodNotAllowed(req.method);
    requireScope(ctx, definitions.scope);
    await ctx.delay("armRead");
    if (definitions.rest.length === 0) {
      const filter = req.query.get("$filter") ?? "";
      const byName = /roleName\s+eq\s+'([^']*)'/i.exec(filter)?.[1];
      return list(
        BUILT_IN_ROLES.filter(
          (r) => byName === undefined || r.roleName.toLowerCase() === byName.toLowerCase(),
        ).map((r) => roleDefinitionJson(r, definitions.scope)),
      );
    }
    const role = definitions.rest.length === 1 ? findRole(definitions.rest[0] ?? "") : undefined;
    if (!role) {
      throw new AzureHttpError(
        404,
        "RoleDefinitionDoesNotExist",
        `The specified role definition with ID '${definitions.rest.join("/")}' does not exist.`,
      );
    }
    return { status: 200, body: roleDefinitionJson(role, definitions.scope) };
  }

  const assignments = splitScope(req.segments, "roleAssignments");
  if (!assignments) return undefined;
  const { scope, rest } = assignments;
  if (rest.length === 0) {
    if (req.method !== "GET") methodNotAllowed(req.method);
    requireScope(ctx, scope);
    authorize(ctx, req, RA_READ, scope);
    await ctx.delay("armRead");
    return list(listForScope(ctx, scope, req.query.get("$filter")).map(roleAssignmentJson));
  }
  if (rest.length !== 1) return undefined;
  const name = decodeURIComponent(rest[0] ?? "");
  const id = `${scope === "/" ? "" : scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
  switch (req.method) {
    case "GET": {
      requireScope(ctx, scope);
      authorize(ctx, req, RA_READ, scope);
      await ctx.delay("armRead");
      const ra = state.roleAssignments.get(id.toLowerCase());
      if (!ra) {
        throw new AzureHttpError(
          404,
          "RoleAssignmentNotFound",
          `The role assignment '${name}' is not found.`,
        );
      }
      return { status: 200, body: roleAssignmentJson(ra) };
    }
    case "DELETE": {
      authorize(ctx, req, RA_DELETE, scope);
      await ctx.delay("armWrite");
      const ra = state.roleAssignments.get(id.toLowerCase());
      if (!ra) return { status: 204 };
      state.deleteRoleAssignment(ra);
      return { status: 200, body: roleAssignmentJson(ra) };
    }
    case "PUT":
      return putRoleAssignment(ctx, req, scope, name, id);
    default:
      methodNotAllowed(req.method);
  }
}

function listForScope(ctx: ArmContext, scope: string, filter: string | null): RoleAssignment[] {
  const all = [...ctx.state.roleAssignments.values()];
  const f = filter ?? "";
  const atScopeOnly = /atScope\(\)/i.test(f);
  const principal = /(?:principalId\s+eq\s+|assignedTo\()'([^']+)'/i.exec(f)?.[1]?.toLowerCase();
  return all.filter((ra) => {
    const aboveOrAt = scopeCovers(ra.scope, scope);
    const below = scopeCovers(scope, ra.scope);
    if (atScopeOnly ? !aboveOrAt : !(aboveOrAt || below)) return false;
    return principal === undefined || ra.principalId.toLowerCase() === principal;
  });
}

async function putRoleAssignment(
  ctx: ArmContext,
  req: ArmRequest,
  scope: string,
  name: string,
  id: string,
): Promise<EmulatorResponse> {
  const { state } = ctx;
  if (!GUID_PATTERN.test(name)) {
    throw new AzureHttpError(
      400,
      "InvalidRoleAssignmentId",
      `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`,
    );
  }
  requireScope(ctx, scope);
  authorize(ctx, req, RA_WRITE, scope);
  const props = asRecord((await req.body()).properties);
  const roleDefinitionId = props?.roleDefinitionId;
  const principalId = props?.principalId;
  if (typeof roleDefinitionId !== "string" || typeof principalId !== "string") {
    throw new AzureHttpError(
      400,
      "InvalidRoleAssignmentRequest",
      "The request must carry properties.roleDefinitionId and properties.principalId.",
    );
  }
  const roleGuid = roleDefinitionId.split("/").filter(Boolean).at(-1) ?? "";
  if (!findRole(roleGuid)) {
    throw new AzureHttpError(
      400,
      "RoleDefinitionDoesNotExist",
      `The specified role definition with ID '${roleGuid}' does not exist.`,
    );
  }
  const principalType = typeof props?.principalType === "string" ? props.principalType : undefined;
  const principal = state.principal(principalId);
  if (!principal && principalType === undefined) {
    throw new AzureHttpError(
      400,
      "PrincipalNotFound",
      `Principal ${principalId.replace(/-/g, "")} does not exist in the directory ${state.tenantId}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype`,
    );
  }
  // ARM checks a given principalType against the directory when it knows the principal:
  // 400 UnmatchedPrincipalType, "The PrincipalId '<oid without dashes>' has type 'ServicePrincipal',
  // which is different from specified PrincipalType 'User'." (a Teams user id given for an app, say).
  if (principal && principalType !== undefined && !sameKind(principal.kind, principalType)) {
    throw new AzureHttpError(
      400,
      "UnmatchedPrincipalType",
      `The PrincipalId '${principalId.replace(/-/g, "")}' has type '${principal.kind === "User" ? "User" : "ServicePrincipal"}', which is different from specified PrincipalType '${principalType}'.`,
    );
  }
  const same = (ra: RoleAssignment) =>
    ra.principalId.toLowerCase() === principalId.toLowerCase() &&
    ra.roleGuid === roleGuid.toLowerCase() &&
    ra.scope.toLowerCase() === scope.toLowerCase();
  const existing = state.roleAssignments.get(id.toLowerCase());
  if (existing) {
    if (same(existing)) return { status: 200, body: roleAssignmentJson(existing) };
    throw new AzureHttpError(
      400,
      "RoleAssignmentUpdateNotPermitted",
      "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
    );
  }
  const duplicate = [...state.roleAssignments.values()].find(same);
  if (duplicate) {
    throw new AzureHttpError(409, "RoleAssignmentExists", "The role assignment already exists.");
  }
  await ctx.delay("roleAssignmentCreate");
  const racedDuplicate = [...state.roleAssignments.values()].find(same);
  if (racedDuplicate) {
    throw new AzureHttpError(409, "RoleAssignmentExists", "The role assignment already exists.");
  }
  const now = state.clock.now();
  const ra: RoleAssignment = {
    id,
    name,
    scope,
    roleDefinitionId: roleDefinitionId.startsWith("/") ? roleDefinitionId : `/${roleDefinitionId}`,
    roleGuid: roleGuid.toLowerCase(),
    principalId,
    principalType: principalType ?? (principal?.kind === "User" ? "User" : "ServicePrincipal"),
    createdOn: now,
    createdBy: req.caller.oid,
    effectiveAt: state.dueIn(state.latency.roleAssignmentPropagation),
    seeded: false,
  };
  if (typeof props?.description === "string") ra.description = props.description;
  if (typeof props?.condition === "string") ra.condition = props.condition;
  if (typeof props?.conditionVersion === "string") ra.conditionVersion = props.conditionVersion;
  state.roleAssignments.set(id.toLowerCase(), ra);
  state.count(RESOURCE_TYPES.roleAssignment, "created");
  return { status: 201, body: roleAssignmentJson(ra) };
}

/** A managed identity is a service principal to ARM's principalType. */
function sameKind(kind: string, principalType: string): boolean {
  const asArm = kind === "User" ? "User" : "ServicePrincipal";
  return asArm.toLowerCase() === principalType.toLowerCase();
}
