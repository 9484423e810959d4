// What the bot's Azure identity may do on the labs' subscription, and nothing
// more. Deploy this module on its own (az deployment sub create) when the labs
// live in another subscription than the bot.
targetScope = 'subscription'

@description('Principal (object) id of the bot\'s user-assigned managed identity.')
param principalId string

// Built-in role definition ids, the same in every Azure cloud.
var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c'
var rbacAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168'
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

// Azure ABAC "constrain roles": role assignments may be created only for the
// two Key Vault roles and only for service principals (the lab's managed
// identity, the bot itself), and deleted only for those two roles. Without
// it, Role Based Access Control Administrator could make anyone Owner.
var keyVaultRolesOnly = '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${keyVaultSecretsUser}, ${keyVaultSecretsOfficer}} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\'ServicePrincipal\'})) AND ((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${keyVaultSecretsUser}, ${keyVaultSecretsOfficer}}))'

// Lab resource groups, AKS clusters, vaults (and their purge), identities and
// federated credentials. Contributor cannot assign roles.
resource labsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, contributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'labops: create and delete lab resource groups, AKS clusters, vaults and identities.'
  }
}

// The steps role-mi (Key Vault Secrets User to the lab's identity) and
// role-bot (Key Vault Secrets Officer to the bot, to seed and rotate secrets).
resource keyVaultRoleDelegation 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, rbacAdministrator)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', rbacAdministrator)
    principalId: principalId
    principalType: 'ServicePrincipal'
    condition: keyVaultRolesOnly
    conditionVersion: '2.0'
    description: 'labops: assign Key Vault Secrets User or Officer on lab vaults, to service principals only.'
  }
}
