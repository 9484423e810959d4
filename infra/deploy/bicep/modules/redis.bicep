// Redis for BullMQ: Azure Managed Redis (Microsoft.Cache/redisEnterprise),
// the successor of Azure Cache for Redis, whose Basic, Standard and Premium
// tiers retire and no longer take new caches in most tenants.
//
// BullMQ needs: maxmemory-policy noeviction (an evicted key is a lost or
// corrupted job), persistence so a restart keeps the queues (AOF every
// second), TLS, and one keyspace for its multi-key Lua scripts (NoCluster).

param location string
param baseName string
param skuName string

@allowed([
  'aof'
  'rdb'
  'none'
])
param persistence string

param tags object

var persistenceSettings = {
  aof: {
    aofEnabled: true
    aofFrequency: '1s'
  }
  rdb: {
    rdbEnabled: true
    rdbFrequency: '1h'
  }
  none: {
    aofEnabled: false
    rdbEnabled: false
  }
}

resource cache 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: '${baseName}-${uniqueString(resourceGroup().id)}'
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: 'Enabled'
    // Set Disabled and add a private endpoint in the cluster's virtual network
    // to keep Redis off the internet.
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: cache
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: 'NoCluster'
    evictionPolicy: 'NoEviction'
    // REDIS_URL carries an access key; the bot has no Entra ID login to Redis.
    accessKeysAuthentication: 'Enabled'
    persistence: persistenceSettings[persistence]
  }
}

output hostName string = cache.properties.hostName
output port int = database.properties.port
