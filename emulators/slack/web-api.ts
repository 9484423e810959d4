import { type RecordedCall, type SlackMessage, startSlackEmulatorServer } from "./emulator.ts";

export type { RecordedCall, SlackMessage } from "./emulator.ts";

/**
 * The skeleton's recording Web API: the Slack emulator's server with nothing
 * else, for tests that only read what the bot posted.
 */
export interface SlackWebApiEmulator {
  /** Base URL for SLACK_API_URL, ending in "/api/". */
  readonly url: string;
  readonly calls: RecordedCall[];
  readonly messages: SlackMessage[];
  thread(channel: string, ts: string): SlackMessage[];
  /** What a press of a button needs from Slack: a trigger id and a response URL for `user` in `channel`. */
  pressContext(user: string, channel: string): { triggerId: string; responseUrl: string; team: string };
  close(): Promise<void>;
}

export interface SlackWebApiOptions {
  botToken: string;
  port?: number;
  timeScale?: number;
}

export async function startSlackWebApi(options: SlackWebApiOptions): Promise<SlackWebApiEmulator> {
  const server = await startSlackEmulatorServer(options);
  return {
    url: server.apiUrl,
    calls: server.workspace.calls,
    messages: server.workspace.messages,
    thread: (channel, ts) => server.workspace.thread(channel, ts),
    pressContext: (user, channel) => ({
      triggerId: server.workspace.issueTrigger(user),
      responseUrl: server.workspace.issueResponseUrl(server.url, { channel, user }),
      team: server.workspace.team,
    }),
    close: () => server.close(),
  };
}
