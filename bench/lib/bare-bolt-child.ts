import { App, HTTPReceiver } from "@slack/bolt";
import { EMULATED } from "../../emulators/chat.ts";
import { SLACK_SIGNING_SECRET } from "../../test/helpers/chat-world.ts";
import { serveBareApp } from "./ack-child.ts";

/**
 * The bare Bolt app of the Slack acknowledgement bench, in a process of its
 * own (lib/ack-child.ts): Bolt's HTTP receiver and one `/lab` handler that
 * only calls ack(). Its bot ids are given, so Bolt never calls auth.test: it
 * touches nothing but the request. Answers "cpu", "gc", "gc_ms" and "close".
 */
const receiver = new HTTPReceiver({ signingSecret: SLACK_SIGNING_SECRET, endpoints: "/slack/events" });
const app = new App({
  receiver,
  token: EMULATED.slackBotToken,
  botId: "B0BOT",
  botUserId: "U0BOT",
  tokenVerificationEnabled: false,
});
app.command("/lab", async ({ ack }) => {
  await ack();
});
await serveBareApp(receiver.requestListener);
