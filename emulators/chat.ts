import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CertificateAuthority } from "./shared/tls.ts";
import { type SlackEmulator, startSlackEmulator } from "./slack/index.ts";
import { startTeamsEmulator, type TeamsEmulator } from "./teams/index.ts";

/**
 * Both chat emulators in one call, for `npm run demo` and for tests: an
 * emulated Slack workspace and an emulated Teams tenant, with the env lines
 * that point the unchanged bot at them. The Teams login authority is HTTPS
 * with its own CA: `caPem` must be trusted by the bot (LABOPS_CA_FILE; the
 * demo concatenates it with the Azure emulator's CA into one file).
 */
export interface ChatEmulators {
  slack: SlackEmulator;
  teams: TeamsEmulator;
  /** PEM the bot must trust for the Teams login authority. */
  caPem: string;
  /** SLACK_*, MICROSOFT_APP_*, BOTFRAMEWORK_* (not LABOPS_CA_FILE). */
  env: Record<string, string>;
  /** Once the bot listens: where each emulator delivers (Slack's Request URL, Teams' messaging endpoint). */
  connect(botBaseUrl: string): void;
  close(): Promise<void>;
}

export interface ChatEmulatorOptions {
  /** Divides the platforms' rate-limit windows; give the bot the same LABOPS_TIME_SCALE. */
  timeScale?: number;
  /** Slack over Socket Mode (SLACK_APP_TOKEN in env) instead of HTTP. */
  socketMode?: boolean;
  /** The world's CA (the Azure emulator's), so one LABOPS_CA_FILE serves all. */
  ca?: CertificateAuthority;
}

/** The emulated apps' identities; nothing here is a real credential. */
export const EMULATED = {
  slackBotToken: "xoxb-labops-emulated",
  slackSigningSecret: "labops-emulated-signing-secret",
  slackAppToken: "xapp-1-A0LABOPS-emulated",
  slackTeam: "T0001",
  teamsAppId: "0a1b2c3d-0000-4000-8000-00000000b07a",
  teamsAppPassword: "labops-emulated-teams-secret",
  teamsTenant: "0a1b2c3d-0000-4000-8000-0000000000aa",
} as const;

export async function startChatEmulators(options: ChatEmulatorOptions = {}): Promise<ChatEmulators> {
  const timeScale = options.timeScale ?? 1;
  const slack = await startSlackEmulator({
    botToken: EMULATED.slackBotToken,
    signingSecret: EMULATED.slackSigningSecret,
    appToken: EMULATED.slackAppToken,
    team: EMULATED.slackTeam,
    timeScale,
  });
  const teams = await startTeamsEmulator({
    appId: EMULATED.teamsAppId,
    appPassword: EMULATED.teamsAppPassword,
    tenantId: EMULATED.teamsTenant,
    timeScale,
    ...(options.ca ? { ca: options.ca } : {}),
  });
  const slackEnv = slack.env();
  if (!options.socketMode) delete slackEnv.SLACK_APP_TOKEN;
  return {
    slack,
    teams,
    caPem: teams.caPem,
    env: { ...slackEnv, ...teams.env() },
    connect(botBaseUrl) {
      const base = botBaseUrl.replace(/\/+$/, "");
      slack.setRequestUrl(`${base}/slack/events`);
      teams.setBotEndpoint(`${base}/api/messages`);
    },
    async close() {
      await Promise.all([slack.close(), teams.close()]);
    },
  };
}

/** Writes `pem` to a private temporary file and returns its path (for LABOPS_CA_FILE). */
export async function writeCaFile(pem: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "labops-ca-"));
  const file = join(dir, "ca.pem");
  await writeFile(file, pem, { mode: 0o600 });
  return file;
}
