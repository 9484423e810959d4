/**
 * Built-in Azure role definitions the lab meets, with their real ids (the
 * same in every subscription) and the permissions that matter here. Ids were
 * checked against Microsoft's built-in roles reference.
 */
export interface RoleDefinition {
  /** The role's GUID (last segment of its id). */
  guid: string;
  roleName: string;
  description: string;
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

export const KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6";
export const KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
export const KEY_VAULT_ADMINISTRATOR = "00482a5a-887f-4fb3-b363-3b7fe8e74483";
export const KEY_VAULT_READER = "21090545-7ca7-4776-b22c-e363652d74d2";
export const OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
export const CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c";
export const READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
export const USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
export const AKS_CLUSTER_USER = "4abbcc35-e782-43d8-92c5-2d3f1bd2253f";
export const AKS_RBAC_WRITER = "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb";

/** The control-plane reads every Key Vault data role carries, as Azure defines them. */
const KEY_VAULT_METADATA_READ: string[] = [
  "Microsoft.Authorization/*/read",
  "Microsoft.Resources/subscriptions/resourceGroups/read",
  "Microsoft.KeyVault/checkNameAvailability/read",
  "Microsoft.KeyVault/deletedVaults/read",
  "Microsoft.KeyVault/locations/*/read",
  "Microsoft.KeyVault/vaults/*/read",
  "Microsoft.KeyVault/operations/read",
];

export const BUILT_IN_ROLES: readonly RoleDefinition[] = [
  {
    guid: KEY_VAULT_SECRETS_USER,
    roleName: "Key Vault Secrets User",
    description:
      "Read secret contents. Only works for key vaults that use the 'Azure role-based access control' permission model.",
    actions: [],
    notActions: [],
    dataActions: [
      "Microsoft.KeyVault/vaults/secrets/getSecret/action",
      "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ],
    notDataActions: [],
  },
  {
    guid: KEY_VAULT_SECRETS_OFFICER,
    roleName: "Key Vault Secrets Officer",
    description:
      "Perform any action on the secrets of a key vault, except manage permissions. Only works for key vaults that use the 'Azure role-based access control' permission model.",
    actions: KEY_VAULT_METADATA_READ,
    notActions: [],
    dataActions: ["Microsoft.KeyVault/vaults/secrets/*"],
    notDataActions: [],
  },
  {
    guid: KEY_VAULT_ADMINISTRATOR,
    roleName: "Key Vault Administrator",
    description:
      "Perform all data plane operations on a key vault and all objects in it, including certificates, keys, and secrets. Cannot manage key vault resources or manage role assignments. Only works for key vaults that use the 'Azure role-based access control' permission model.",
    actions: KEY_VAULT_METADATA_READ,
    notActions: [],
    dataActions: ["Microsoft.KeyVault/vaults/*"],
    notDataActions: [],
  },
  {
    guid: KEY_VAULT_READER,
    roleName: "Key Vault Reader",
    description:
      "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive values such as secret contents or key material. Only works for key vaults that use the 'Azure role-based access control' permission model.",
    actions: KEY_VAULT_METADATA_READ,
    notActions: [],
    dataActions: [
      "Microsoft.KeyVault/vaults/*/read",
      "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ],
    notDataActions: [],
  },
  {
    guid: OWNER,
    roleName: "Owner",
    description:
      "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
    actions: ["*"],
    notActions: [],
    dataActions: [],
    notDataActions: [],
  },
  {
    guid: CONTRIBUTOR,
    roleName: "Contributor",
    description:
      "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
    actions: ["*"],
    notActions: [
      "Microsoft.Authorization/*/Delete",
      "Microsoft.Authorization/*/Write",
      "Microsoft.Authorization/elevateAccess/Action",
    ],
    dataActions: [],
    notDataActions: [],
  },
  {
    guid: READER,
    roleName: "Reader",
    description: "View all resources, but does not allow you to make any changes.",
    actions: ["*/read"],
    notActions: [],
    dataActions: [],
    notDataActions: [],
  },
  {
    guid: USER_ACCESS_ADMINISTRATOR,
    roleName: "User Access Administrator",
    description: "Lets you manage user access to Azure resources.",
    actions: ["*/read", "Microsoft.Authorization/*"],
    notActions: [],
    dataActions: [],
    notDataActions: [],
  },
  {
    guid: AKS_CLUSTER_USER,
    roleName: "Azure Kubernetes Service Cluster User Role",
    description: "List cluster user credential action.",
    actions: [
      "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
      "Microsoft.ContainerService/managedClusters/read",
    ],
    notActions: [],
    dataActions: [],
    notDataActions: [],
  },
  {
    guid: AKS_RBAC_WRITER,
    roleName: "Azure Kubernetes Service RBAC Writer",
    description:
      "Allows read/write access to most objects in a namespace. This role does not allow viewing or modifying roles or role bindings. However, this role allows accessing Secrets and running Pods as any ServiceAccount in the namespace, so it can be used to gain the API access levels of any ServiceAccount in the namespace. Applying this role at cluster scope will give access across all namespaces.",
    actions: [
      "Microsoft.Authorization/*/read",
      "Microsoft.Resources/subscriptions/operationresults/read",
      "Microsoft.Resources/subscriptions/read",
      "Microsoft.Resources/subscriptions/resourceGroups/read",
    ],
    notActions: [],
    // The data actions that matter to a lab's namespace (the built-in role lists more API groups).
    dataActions: [
      "Microsoft.ContainerService/managedClusters/apps/deployments/*",
      "Microsoft.ContainerService/managedClusters/apps/replicasets/*",
      "Microsoft.ContainerService/managedClusters/configmaps/*",
      "Microsoft.ContainerService/managedClusters/events/read",
      "Microsoft.ContainerService/managedClusters/pods/*",
      "Microsoft.ContainerService/managedClusters/secrets/*",
      "Microsoft.ContainerService/managedClusters/serviceaccounts/*",
      "Microsoft.ContainerService/managedClusters/services/*",
    ],
    notDataActions: [],
  },
];

export function findRole(guid: string): RoleDefinition | undefined {
  const lower = guid.toLowerCase();
  return BUILT_IN_ROLES.find((r) => r.guid === lower);
}

/**
 * Azure's wildcard match for actions: `*` matches any run of characters,
 * comparison is case-insensitive.
 */
export function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
    "i",
  );
  return re.test(action);
}

export function roleAllows(role: RoleDefinition, action: string, data: boolean): boolean {
  const allow = data ? role.dataActions : role.actions;
  const deny = data ? role.notDataActions : role.notActions;
  return allow.some((p) => actionMatches(p, action)) && !deny.some((p) => actionMatches(p, action));
}

/**
 * True when `scope` is `resourceId` or one of its ancestors (an assignment on
 * a resource group covers the vaults beneath it). Scopes compare
 * case-insensitively, as ARM ids do.
 */
export function scopeCovers(scope: string, resourceId: string): boolean {
  const s = scope.toLowerCase().replace(/\/+$/, "");
  const r = resourceId.toLowerCase();
  return s === "" || s === "/" || r === s || r.startsWith(`${s}/`);
}
