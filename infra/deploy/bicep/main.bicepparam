// Example parameters: copy, fill in, then
//   az deployment sub create --location westeurope --template-file main.bicep --parameters main.bicepparam
using 'main.bicep'

param location = 'westeurope'
param resourceGroupName = 'labops-rg'
param baseName = 'labops'
// az aks show -g <bot cluster rg> -n <bot cluster> --query oidcIssuerProfile.issuerUrl -o tsv
param aksOidcIssuerUrl = 'https://westeurope.oic.prod-aks.azure.com/00000000-0000-0000-0000-000000000000/00000000-0000-0000-0000-000000000000/'
param namespace = 'labops'
param publicUrl = 'https://labops.example.com'
param deployTeams = true
param teamsAppType = 'UserAssignedMSI'
param deployRedis = true
param redisSkuName = 'Balanced_B1'
param redisPersistence = 'aof'
