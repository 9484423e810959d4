// The bot's identities, reached from its pods through AKS workload identity:
// each trusts one OIDC issuer and one Kubernetes service account, so no
// client secret exists anywhere.

param location string
param baseName string
param aksOidcIssuerUrl string
param namespace string

@description('Service account of the worker and watcher pods.')
param workerServiceAccount string = 'labops'

@description('Service account of the web pods.')
param webServiceAccount string = 'labops-web'

@description('Also create the Teams bot\'s identity (msaAppType UserAssignedMSI).')
param teamsIdentity bool

param tags object

var audiences = [
  'api://AzureADTokenExchange'
]

// Creates and deletes labs. Only the worker and watcher pods can use it: the
// internet-facing web pods run under another service account.
resource azure 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${baseName}-id'
  location: location
  tags: tags
}

resource azureWorkers 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: azure
  name: 'aks-${namespace}-${workerServiceAccount}'
  properties: {
    issuer: aksOidcIssuerUrl
    subject: 'system:serviceaccount:${namespace}:${workerServiceAccount}'
    audiences: audiences
  }
}

// The Teams bot's identity: no Azure role at all, only the Azure Bot trusts it.
// The web pods reply in the turn; the workers post progress and alerts.
resource teams 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = if (teamsIdentity) {
  name: '${baseName}-teams-id'
  location: location
  tags: tags
}

resource teamsWeb 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = if (teamsIdentity) {
  parent: teams
  name: 'aks-${namespace}-${webServiceAccount}'
  properties: {
    issuer: aksOidcIssuerUrl
    subject: 'system:serviceaccount:${namespace}:${webServiceAccount}'
    audiences: audiences
  }
}

resource teamsWorkers 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = if (teamsIdentity) {
  parent: teams
  name: 'aks-${namespace}-${workerServiceAccount}'
  properties: {
    issuer: aksOidcIssuerUrl
    subject: 'system:serviceaccount:${namespace}:${workerServiceAccount}'
    audiences: audiences
  }
  // Federated credentials of one identity cannot be written concurrently.
  dependsOn: [
    teamsWeb
  ]
}

output azureClientId string = azure.properties.clientId
output azurePrincipalId string = azure.properties.principalId
output teamsClientId string = teamsIdentity ? teams.properties.clientId : ''
output teamsResourceId string = teamsIdentity ? teams.id : ''
