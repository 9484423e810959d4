// The Azure Bot that connects Microsoft Teams to POST /api/messages.

param baseName string

@description('https://<public host>/api/messages')
param messagingEndpoint string

@allowed([
  'UserAssignedMSI'
  'SingleTenant'
])
param appType string

@description('Client id of the Teams identity (UserAssignedMSI) or of the app registration (SingleTenant): MICROSOFT_APP_ID.')
param appId string

@description('UserAssignedMSI only: resource id of that identity.')
param msiResourceId string = ''

@description('Teams is a standard channel, free on F0.')
@allowed([
  'F0'
  'S1'
])
param sku string = 'F0'

param tags object

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  // The bot handle is global: make it unique per resource group.
  name: '${baseName}-${uniqueString(resourceGroup().id)}'
  location: 'global'
  kind: 'azurebot'
  sku: {
    name: sku
  }
  tags: tags
  properties: {
    displayName: baseName
    endpoint: messagingEndpoint
    msaAppId: appId
    msaAppType: appType
    msaAppTenantId: tenant().tenantId
    msaAppMSIResourceId: appType == 'UserAssignedMSI' ? msiResourceId : null
    publicNetworkAccess: 'Enabled'
  }
}

resource teams 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
    }
  }
}

output name string = bot.name
