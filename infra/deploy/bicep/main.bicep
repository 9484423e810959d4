// labops' own Azure footprint: its identities, its least-privilege roles on
// the labs' subscription, the Azure Bot for Teams and its Redis.
// Deploy into the subscription the labs are created in:
//   az deployment sub create --location <region> --template-file main.bicep --parameters main.bicepparam
// What each piece grants, and why: README.md next to this file.
targetScope = 'subscription'

@description('Region of the bot\'s own resources. Labs go to AZURE_LOCATION, set in the Kubernetes ConfigMap.')
param location string

@description('Resource group of the bot\'s own resources (not of the labs).')
param resourceGroupName string = 'labops-rg'

@description('Prefix of resource names.')
@minLength(3)
@maxLength(16)
param baseName string = 'labops'

@description('OIDC issuer URL of the AKS cluster that runs the bot: az aks show -g RG -n NAME --query oidcIssuerProfile.issuerUrl -o tsv')
param aksOidcIssuerUrl string

@description('Namespace of the bot in that cluster (infra/deploy/kubernetes/base).')
param namespace string = 'labops'

@description('Public base URL of the bot, such as https://labops.example.com. Teams posts to <url>/api/messages.')
param publicUrl string

@description('Create the Azure Bot with its Microsoft Teams channel. Off for a Slack-only installation.')
param deployTeams bool = true

@description('UserAssignedMSI: the bot authenticates to Teams as a managed identity through workload identity, no secret. SingleTenant: an Entra app registration you create, whose client secret goes into the Secret as MICROSOFT_APP_PASSWORD.')
@allowed([
  'UserAssignedMSI'
  'SingleTenant'
])
param teamsAppType string = 'UserAssignedMSI'

@description('SingleTenant only: client id of the bot\'s Entra app registration.')
param teamsAppRegistrationClientId string = ''

@description('Create an Azure Managed Redis for BullMQ. Off when you bring your own (TLS, noeviction, persistence).')
param deployRedis bool = true

@description('Azure Managed Redis SKU. Balanced_B1 holds thousands of labs\' jobs and checkpoints.')
param redisSkuName string = 'Balanced_B1'

@description('Redis persistence: aof (every second, recommended for BullMQ), rdb (hourly snapshots) or none.')
@allowed([
  'aof'
  'rdb'
  'none'
])
param redisPersistence string = 'aof'

param tags object = {
  app: 'labops'
}

var teamsMsi = deployTeams && teamsAppType == 'UserAssignedMSI'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

module identities 'modules/identity.bicep' = {
  name: '${baseName}-identities'
  scope: rg
  params: {
    location: location
    baseName: baseName
    aksOidcIssuerUrl: aksOidcIssuerUrl
    namespace: namespace
    teamsIdentity: teamsMsi
    tags: tags
  }
}

module labsRoles 'modules/labs-roles.bicep' = {
  name: '${baseName}-labs-roles'
  params: {
    principalId: identities.outputs.azurePrincipalId
  }
}

module bot 'modules/bot.bicep' = if (deployTeams) {
  name: '${baseName}-bot'
  scope: rg
  params: {
    baseName: baseName
    messagingEndpoint: uri(publicUrl, '/api/messages')
    appType: teamsAppType
    appId: teamsMsi ? identities.outputs.teamsClientId : teamsAppRegistrationClientId
    msiResourceId: teamsMsi ? identities.outputs.teamsResourceId : ''
    tags: tags
  }
}

module redis 'modules/redis.bicep' = if (deployRedis) {
  name: '${baseName}-redis'
  scope: rg
  params: {
    location: location
    baseName: baseName
    skuName: redisSkuName
    persistence: redisPersistence
    tags: tags
  }
}

@description('ServiceAccount labops (worker, watcher): azure.workload.identity/client-id.')
output azureClientId string = identities.outputs.azureClientId

@description('ServiceAccount labops-web and ConfigMap MICROSOFT_APP_ID (empty without Teams).')
output teamsClientId string = teamsMsi ? identities.outputs.teamsClientId : (deployTeams ? teamsAppRegistrationClientId : '')

@description('ConfigMap MICROSOFT_APP_TENANT_ID.')
output tenantId string = tenant().tenantId

@description('ConfigMap AZURE_SUBSCRIPTION_ID.')
output subscriptionId string = subscription().subscriptionId

@description('Host of REDIS_URL: rediss://:<access key>@<host>:<port> (az redisenterprise database list-keys).')
output redisHostName string = deployRedis ? redis.outputs.hostName : ''

output redisPort int = deployRedis ? redis.outputs.port : 0
