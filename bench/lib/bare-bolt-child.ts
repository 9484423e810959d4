import { createServer } from "node:http";
import { App, HTTPReceiver } from "@slack/bolt";
import { EMULATED } from "../../emulators/chat.ts";
import { SLACK_SIGNING_SECRET } from "../../test/helpers/chat-world.ts";
import { cpuMicrosNow, gcMsSoFar } from "./ack-child.ts";

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
const server = createServer(receiver.requestListener);
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const address = server.address();
if (address === null || typeof address === "string") throw new Error("bare app has no port");

process.on("message", (request: { id: number; kind: "cpu" | "gc" | "gc_ms" | "close" }) => {
  if (request.kind === "gc_ms") {
    process.send?.({ id: request.id, value: gcMsSoFar() });
    return;
  }
  if (request.kind === "cpu" || request.kind === "gc") {
    if (request.kind === "gc") (globalThis as { gc?: () => void }).gc?.();
    process.send?.({ id: request.id, value: cpuMicrosNow() });
    return;
  }
  server.closeAllConnections();
  server.close(() => {
    process.send?.({ id: request.id, value: null });
    process.disconnect?.();
  });
});
gcMsSoFar();
process.send?.({ id: 0, value: { port: address.port } });
