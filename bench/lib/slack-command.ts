import { FORM, newTriggerId, slackSignature, slashCommandBody } from "../../emulators/slack/index.ts";
import { SLACK_SIGNING_SECRET, type World } from "../../test/helpers/chat-world.ts";
import type { PreparedPost } from "./load.ts";

/**
 * One signed `/lab` slash command as Slack sends it to the bot: from user
 * `user` (`bench<i>`) in `channel`, with a trigger id of its own, so the
 * bot's de-duplication never answers in its place.
 */
export function signedSlashCommand(
  world: Pick<World, "slack">,
  command: { text: string; channel: string; user: string; i: number },
): PreparedPost {
  const { text, channel, user, i } = command;
  const body = slashCommandBody({
    command: "/lab",
    text,
    team: world.slack.workspace.team,
    channel,
    user,
    userName: `bench${i}`,
    triggerId: newTriggerId(),
    responseUrl: world.slack.workspace.issueResponseUrl(world.slack.url, { channel, user }),
  });
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    body,
    headers: {
      "content-type": FORM,
      "x-slack-request-timestamp": String(timestamp),
      "x-slack-signature": slackSignature(SLACK_SIGNING_SECRET, timestamp, body),
    },
  };
}
