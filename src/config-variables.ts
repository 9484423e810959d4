/**
 * Every environment variable labops reads, with its default and whether it is
 * a secret. The README's configuration table is checked against this list by
 * a test; `src/config.ts` reads and checks the values.
 */

export interface ConfigVariable {
  name: string;
  /** Shown in the README; "–" when there is none. */
  default: string;
  /** Never printed, in errors or anywhere else. */
  secret: boolean;
  description: string;
}

export const CONFIG_VARIABLES: readonly ConfigVariable[] = [
  { name: "PORT", default: "3978", secret: false, description: "HTTP port of the web role." },
  {
    name: "LABOPS_HOST",
    default: "0.0.0.0",
    secret: false,
    description: "Address the HTTP server listens on; `127.0.0.1` keeps it to this machine.",
  },
  {
    name: "REDIS_URL",
    default: "redis://127.0.0.1:6379",
    secret: true,
    description: "Redis for BullMQ and all shared state (`rediss://` for TLS).",
  },
  {
    name: "LABOPS_ROLE",
    default: "all",
    secret: false,
    description: "`all`, or a comma list of `web`, `worker`, `watcher`.",
  },
  {
    name: "LABOPS_REDIS_PREFIX",
    default: "labops",
    secret: false,
    description: "Prefix of every Redis key and queue; one per installation.",
  },
  {
    name: "LABOPS_SECRET_KEY",
    default: "–",
    secret: true,
    description: "32 random bytes, base64 (`openssl rand -base64 32`): seals secret values in job data.",
  },
  { name: "LABOPS_LOG_LEVEL", default: "info", secret: false, description: "pino level." },
  {
    name: "SLACK_SIGNING_SECRET",
    default: "–",
    secret: true,
    description: "Slack app's Signing Secret (Basic Information); not used in Socket Mode.",
  },
  { name: "SLACK_BOT_TOKEN", default: "–", secret: true, description: "Slack bot token, `xoxb-…`." },
  {
    name: "SLACK_APP_TOKEN",
    default: "–",
    secret: true,
    description: "Slack app-level token, `xapp-…`; when set, Slack is served over Socket Mode.",
  },
  {
    name: "SLACK_API_URL",
    default: "https://slack.com/api/",
    secret: false,
    description: "Slack Web API base.",
  },
  { name: "MICROSOFT_APP_ID", default: "–", secret: false, description: "Teams bot's app (client) id." },
  { name: "MICROSOFT_APP_PASSWORD", default: "–", secret: true, description: "Teams bot's client secret." },
  {
    name: "MICROSOFT_APP_TENANT_ID",
    default: "–",
    secret: false,
    description: "Tenant of the Teams bot (required for `SingleTenant`).",
  },
  {
    name: "MICROSOFT_APP_TYPE",
    default: "SingleTenant",
    secret: false,
    description: "`SingleTenant`, `MultiTenant` or `UserAssignedMSI`.",
  },
  {
    name: "BOTFRAMEWORK_OPENID_METADATA_URL",
    default: "https://login.botframework.com/v1/.well-known/openidconfiguration",
    secret: false,
    description: "OpenID metadata that inbound Teams tokens are checked against.",
  },
  {
    name: "BOTFRAMEWORK_TOKEN_ISSUER",
    default: "https://api.botframework.com",
    secret: false,
    description: "Issuer of inbound Teams tokens.",
  },
  {
    name: "BOTFRAMEWORK_LOGIN_URL",
    default: "https://login.microsoftonline.com",
    secret: false,
    description: "Authority for the bot's outbound Bot Connector tokens.",
  },
  {
    name: "AZURE_SUBSCRIPTION_ID",
    default: "–",
    secret: false,
    description: "Subscription the labs are created in.",
  },
  {
    name: "AZURE_TENANT_ID",
    default: "–",
    secret: false,
    description: "Entra ID tenant of the bot's identity.",
  },
  { name: "AZURE_CLIENT_ID", default: "–", secret: false, description: "Client id of the bot's identity." },
  {
    name: "AZURE_CLIENT_SECRET",
    default: "–",
    secret: true,
    description: "Client secret of the bot's identity (or use `AZURE_FEDERATED_TOKEN_FILE`).",
  },
  {
    name: "AZURE_FEDERATED_TOKEN_FILE",
    default: "–",
    secret: false,
    description: "Workload identity token file (set by AKS workload identity).",
  },
  {
    name: "AZURE_AUTHORITY_HOST",
    default: "https://login.microsoftonline.com",
    secret: false,
    description: "Entra ID authority (sovereign clouds, Azure Stack, the emulator).",
  },
  { name: "AZURE_LOCATION", default: "centralus", secret: false, description: "Region of new labs." },
  {
    name: "ARM_ENDPOINT",
    default: "https://management.azure.com",
    secret: false,
    description: "Azure Resource Manager endpoint.",
  },
  {
    name: "LABOPS_CA_FILE",
    default: "–",
    secret: false,
    description: "Extra PEM certificates to trust for Azure and the clusters (emulators).",
  },
  {
    name: "LABOPS_ADMINS",
    default: "–",
    secret: false,
    description: "Comma list of admin users, e.g. `slack:U0123,teams:<aad-object-id>`.",
  },
  {
    name: "LABOPS_DEFAULT_TTL",
    default: "8h",
    secret: false,
    description: "Lifetime of a lab created without `--ttl`.",
  },
  {
    name: "LABOPS_MAX_TTL",
    default: "7d",
    secret: false,
    description: "Longest `--ttl` or `--by` accepted; no expiry is set further than this from now.",
  },
  {
    name: "LABOPS_MAX_LAB_LIFETIME",
    default: "24h",
    secret: false,
    description:
      "Longest a lab lives from its creation: a longer `--ttl` is cut to it, an extend past it refused.",
  },
  {
    name: "LABOPS_MAX_LABS_PER_USER",
    default: "2",
    secret: false,
    description:
      "Live labs one person may have (admins exempt); failed labs and labs being created or destroyed count.",
  },
  {
    name: "LABOPS_MAX_LABS_PER_CONVERSATION",
    default: "3",
    secret: false,
    description: "Live labs one channel or chat may have (admins exempt).",
  },
  {
    name: "LABOPS_MAX_LABS",
    default: "40",
    secret: false,
    description: "Live labs in all, admins' included: keep it within the subscription's quota and budget.",
  },
  {
    name: "LABOPS_MAX_COMMANDS_PER_MINUTE",
    default: "20",
    secret: false,
    description: "Commands one person may send per minute (admins exempt); the refusal says when to retry.",
  },
  {
    name: "LABOPS_WORKER_CONCURRENCY",
    default: "10",
    secret: false,
    description: "Jobs one worker process runs at once.",
  },
  {
    name: "LABOPS_JOB_LOCK_MS",
    default: "30000",
    secret: false,
    description:
      "How long a worker's lock on a job lasts without renewal: a dead worker's job is taken over after about twice this.",
  },
  {
    name: "LABOPS_ADMIN_TOKEN",
    default: "–",
    secret: true,
    description: "Bearer token for the operator pages (`/admin/queues`, `/metrics`); unset disables them.",
  },
  {
    name: "LABOPS_VM_SIZE",
    default: "Standard_B2s",
    secret: false,
    description: "VM size of a lab's nodes; checked against the region's offer and quotas before each lab.",
  },
  {
    name: "LABOPS_NODE_COUNT",
    default: "2",
    secret: false,
    description: "Nodes of a lab's cluster (1 to 10).",
  },
  {
    name: "LABOPS_PRICES",
    default: "–",
    secret: false,
    description:
      'Hourly prices per location over the built-in table, JSON: `{"westeurope":{"vm":{"Standard_B2s":0.048}}}`.',
  },
  {
    name: "LABOPS_CHAT_MARGIN_MS",
    default: "50",
    secret: false,
    description:
      "Real milliseconds added to each Slack and Teams rate window, for the spread between reserving a call and the platform counting it; raise it on a host whose event loop stalls longer.",
  },
  {
    name: "LABOPS_TIME_SCALE",
    default: "1",
    secret: false,
    description: "Emulators only: divides the bot's waits to match emulators run faster than Azure.",
  },
];
