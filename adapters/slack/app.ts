import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { App, HTTPReceiver } from "@slack/bolt";
import { type IntakeOutcome, intake } from "../../src/commands/intake.ts";
import { type ParseOptions, parseSlashCommand } from "../../src/commands/parse.ts";
import type { SlackConfig } from "../../src/config.ts";
import { type Logger, newCorrelationId } from "../../src/log.ts";
import type { CommandQueue } from "../../src/ports/queue.ts";
import { slackLogger } from "./logger.ts";

export const SLACK_EVENTS_PATH = "/slack/events";

export interface SlackAppOptions {
  config: SlackConfig;
  queue: CommandQueue;
  logger: Logger;
  parseOptions: ParseOptions;
  now?: () => number;
}

export interface SlackApp {
  app: App;
  /** Handles POST /slack/events: signature and timestamp checks, then Bolt. */
  requestListener: RequestListener;
}

/**
 * Slack's side of the web role. The receiver does transport only (Bolt checks
 * the v0 signature and the 5-minute window and answers 401 otherwise); the
 * handlers turn a slash command into an intake call and acknowledge with its
 * answer, visible only to the sender, well inside Slack's 3 seconds.
 */
export function createSlackApp(options: SlackAppOptions): SlackApp {
  const { config, logger } = options;
  const now = options.now ?? Date.now;
  const receiver = new HTTPReceiver({
    signingSecret: config.signingSecret,
    endpoints: SLACK_EVENTS_PATH,
    logger: slackLogger(logger),
    // Answer Slack ourselves within its 3 s even if a handler forgets to.
    unhandledRequestTimeoutMillis: 2_500,
  });
  const app = new App({
    receiver,
    token: config.botToken,
    logger: slackLogger(logger),
    clientOptions: { slackApiUrl: config.apiUrl },
    // auth.test runs on first use, not at construction, so start-up does not need Slack.
    tokenVerificationEnabled: false,
  });

  app.command(/^\/(lab|secret|labops)$/, async ({ command, ack }) => {
    const outcome: IntakeOutcome = await intake(
      {
        parsed: parseSlashCommand(command.command, command.text ?? "", options.parseOptions),
        deliveryId: `slack.${command.team_id}.${command.trigger_id}`,
        correlationId: newCorrelationId(),
        origin: {
          address: { platform: "slack", tenant: command.team_id, channel: command.channel_id },
          user: { platform: "slack", id: command.user_id, name: command.user_name },
          responseUrl: command.response_url,
        },
        receivedAt: now(),
      },
      { queue: options.queue, logger },
    );
    await ack({ response_type: "ephemeral", text: outcome.text });
  });

  const listener = receiver.requestListener;
  return {
    app,
    requestListener: (req: IncomingMessage, res: ServerResponse) => listener(req, res),
  };
}
