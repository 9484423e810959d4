import type { CapSettings } from "./commands/caps.ts";
import type { PriceOverride } from "./labs/prices.ts";

/** The shape of labops' configuration, as `loadConfig` (src/config.ts) returns it. */

export type Role = "web" | "worker" | "watcher";
export const ROLES: readonly Role[] = ["web", "worker", "watcher"];

export interface SlackConfig {
  /** Empty in Socket Mode, where there is no request to verify. */
  signingSecret: string;
  botToken: string;
  appToken: string | undefined;
  apiUrl: string;
}

export type TeamsAppType = "SingleTenant" | "MultiTenant" | "UserAssignedMSI";

export interface TeamsConfig {
  appId: string;
  appPassword: string | undefined;
  tenantId: string | undefined;
  appType: TeamsAppType;
  openIdMetadataUrl: string;
  tokenIssuer: string;
  loginUrl: string;
}

export interface AzureConfig {
  subscriptionId: string;
  tenantId: string;
  clientId: string;
  clientSecret: string | undefined;
  federatedTokenFile: string | undefined;
  authorityHost: string;
  location: string;
  armEndpoint: string;
}

export interface Config {
  port: number;
  /** Address the HTTP server listens on. */
  host: string;
  redisUrl: string;
  roles: ReadonlySet<Role>;
  redisPrefix: string;
  secretKey: Buffer;
  logLevel: string;
  slack: SlackConfig | undefined;
  teams: TeamsConfig | undefined;
  azure: AzureConfig | undefined;
  /** PEM text of LABOPS_CA_FILE, read at start-up. */
  caPem: string | undefined;
  admins: readonly string[];
  defaultTtlMs: number;
  maxTtlMs: number;
  /** The caps on labs and commands (LABOPS_MAX_LABS*, LABOPS_MAX_COMMANDS_PER_MINUTE, LABOPS_MAX_LAB_LIFETIME). */
  caps: CapSettings;
  workerConcurrency: number;
  jobLockMs: number;
  adminToken: string | undefined;
  timeScale: number;
  /** LABOPS_CHAT_MARGIN_MS: real ms added to every chat rate window (PacedChat's jitter margin). */
  chatMarginMs: number;
  /** The shape of every lab: its nodes' VM size and count. */
  lab: { vmSize: string; nodeCount: number };
  /** LABOPS_PRICES: per-location price overrides. */
  prices: Record<string, PriceOverride>;
}

export type Env = Readonly<Record<string, string | undefined>>;
