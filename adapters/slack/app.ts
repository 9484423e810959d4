import type { RequestListener } from "node:http";
import {
  App,
  HTTPModuleFunctions,
  HTTPReceiver,
  type Receiver,
  type RespondFn,
  SocketModeReceiver,
} from "@slack/bolt";
import { WebClient } from "@slack/web-api";
import { withoutMarks } from "../../src/chat/markup.ts";
import type { Clock } from "../../src/clock.ts";
import { ACTION, actionToIncoming, BUTTON_ACTIONS, spendsCard } from "../../src/commands/actions.ts";
import { formLinkTag, rotateFormLink } from "../../src/commands/form-link.ts";
import type { Incoming, IntakeDeps, IntakeOutcome } from "../../src/commands/intake.ts";
import { type DeliveryKind, tracedIntake } from "../../src/commands/intake-trace.ts";
import { type ParseOptions, parseMessageText, parseSlashCommand } from "../../src/commands/parse.ts";
import type { Command } from "../../src/commands/types.ts";
import type { SlackConfig } from "../../src/config.ts";
import { errorCode } from "../../src/errors.ts";
import { type Logger, newCorrelationId } from "../../src/log.ts";
import type { ChatAddress, ChatPort, ChatUser, ThreadRef } from "../../src/ports/chat.ts";
import type { CommandOrigin } from "../../src/ports/queue.ts";
import { slackLogger } from "./logger.ts";
import {
  cardBlocks,
  ROTATE_CALLBACK_ID,
  type RotateModalMetadata,
  readRotateModalMetadata,
  rotateModal,
  slackMarkup,
  VALUE_ACTION_ID,
} from "./render.ts";
import { guardSlackRequests } from "./verify.ts";

export const SLACK_EVENTS_PATH = "/slack/events";

/**
 * Bolt's own single-token authorize with `tokenVerificationEnabled: false`
 * calls auth.test again on every request (its cache is reassigned per call):
 * one extra Web API round trip in front of every acknowledgement, and at 100
 * concurrent commands Slack's Tier 4 limit answers 429 until the acks miss
 * Slack's 3 seconds. This one asks once and remembers the answer; a failed
 * ask (Slack unreachable) is not remembered, so the next request asks again.
 */
export function authorizeOnce(
  client: WebClient,
  botToken: string,
): () => Promise<{ botToken: string; botId: string; botUserId: string }> {
  let identity: Promise<{ botId: string; botUserId: string }> | undefined;
  return async () => {
    if (!identity) {
      const asked = client.auth.test({ token: botToken }).then((r) => ({
        botId: String(r.bot_id ?? ""),
        botUserId: String(r.user_id ?? ""),
      }));
      identity = asked;
      asked.catch(() => {
        if (identity === asked) identity = undefined;
      });
    }
    return { botToken, ...(await identity) };
  };
}

export interface SlackAppOptions {
  config: SlackConfig;
  /** What intake needs: queue, registry, confirmations, audit, deliveries, admins, its clock. */
  intake: Omit<IntakeDeps, "logger">;
  /** Paced chat, for answers that are not an HTTP acknowledgement (mentions, modal results). */
  chat: ChatPort;
  logger: Logger;
  parseOptions: ParseOptions;
  /** When a command was received, and Slack's five-minute request window. */
  clock: Pick<Clock, "now">;
  /** `formLinkKey(LABOPS_SECRET_KEY)`: authenticates what the rotate modal carries back. */
  formKey: Buffer;
}

export interface SlackApp {
  app: App;
  /** HTTP mode only: handles POST /slack/events (signature, 5-minute window, then Bolt). */
  requestListener: RequestListener | undefined;
  /** Socket Mode: opens the connection (apps.connections.open, then the WebSocket). HTTP mode: nothing. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Slack's side of the web role, over Bolt. The receiver does transport only:
 * HTTP (guardSlackRequests in ./verify.ts checks the v0 signature, the
 * 5-minute window both ways and the body's shape; 401 or 400 otherwise) or Socket Mode when
 * SLACK_APP_TOKEN is set. The handlers turn slash commands and @mentions into
 * intake calls, hand button presses and the rotate modal to the core's action
 * reading (src/commands/actions.ts), and answer with intake's outcome, visible
 * only to the sender, well inside Slack's 3 seconds. Every delivery is counted
 * once by its Slack id (trigger_id, event_id, view id+hash), because Bolt does
 * not de-duplicate Slack's retries.
 */
export function createSlackApp(options: SlackAppOptions): SlackApp {
  const { config, logger, chat, clock } = options;
  const log = logger.child({ component: "slack" });
  const deps: IntakeDeps = { ...options.intake, logger };
  const socketMode = config.appToken !== undefined;

  let receiver: Receiver;
  let httpReceiver: HTTPReceiver | undefined;
  if (config.appToken !== undefined) {
    receiver = new SocketModeReceiver({
      appToken: config.appToken,
      logger: slackLogger(logger),
      installerOptions: { clientOptions: { slackApiUrl: config.apiUrl } },
    });
  } else {
    httpReceiver = new HTTPReceiver({
      signingSecret: config.signingSecret,
      endpoints: SLACK_EVENTS_PATH,
      logger: slackLogger(logger),
      // guardSlackRequests (./verify.ts) verifies every request before Bolt sees it:
      // checking the signature a second time here would only repeat the HMAC.
      signatureVerification: false,
      // Answer Slack ourselves within its 3 s even if a handler forgets to.
      unhandledRequestTimeoutMillis: 2_500,
      processEventErrorHandler: async (args) => {
        // Bolt reads a payload's parts before any listener runs (`actions` must be a list, and
        // so on): a signed body in a shape Slack never sends makes it throw a TypeError, which
        // its default handler answers with 500. That is a bad request, not a failure of ours.
        if (args.error instanceof TypeError && !args.response.headersSent) {
          log.warn({ code: args.error.name }, "slack.malformed_request");
          args.response.writeHead(400);
          args.response.end();
          return true;
        }
        return HTTPModuleFunctions.defaultProcessEventErrorHandler(args);
      },
    });
    receiver = httpReceiver;
  }
  const app = new App({
    receiver,
    logger: slackLogger(logger),
    clientOptions: { slackApiUrl: config.apiUrl },
    // auth.test runs on first use, not at construction, so start-up does not need Slack.
    authorize: authorizeOnce(new WebClient(undefined, { slackApiUrl: config.apiUrl }), config.botToken),
    // No handler reads `context.conversation`; Bolt's default in-memory store would look every
    // command's channel up, and build an Error for each channel it has nothing for.
    convoStore: false,
  });

  const originOf = (team: string, channel: string, user: ChatUser, extra: Partial<CommandOrigin> = {}) => ({
    address: { platform: "slack", tenant: team, channel } satisfies ChatAddress,
    user,
    ...extra,
  });
  const base = (team: string, channel: string, user: ChatUser, extra: Partial<CommandOrigin> = {}) => ({
    correlationId: newCorrelationId(),
    receivedAt: clock.now(),
    origin: originOf(team, channel, user, extra),
  });
  const slackUser = (id: string, name?: string): ChatUser => ({
    platform: "slack",
    id,
    ...(name ? { name } : {}),
  });

  /** Runs intake and never throws: a Slack handler that throws leaves the user with "dispatch_failed". */
  async function decide(incoming: Incoming, delivery: DeliveryKind): Promise<IntakeOutcome> {
    try {
      return await tracedIntake(incoming, deps, delivery);
    } catch (error) {
      log.error({ code: errorCode(error) }, "slack.intake_failed");
      return {
        kind: "unavailable",
        text: "labops could not take that right now; nothing was changed. Try again.",
      };
    }
  }

  async function openRotateModal(
    client: WebClient,
    triggerId: string,
    command: Extract<Command, { kind: "secret.rotate" }>,
    origin: { address: ChatAddress; user: ChatUser },
  ): Promise<string | undefined> {
    const meta: RotateModalMetadata = {
      secret: command.secret,
      channel: origin.address.channel,
      ...(command.lab ? { lab: command.lab } : {}),
      ...(command.create ? { create: true } : {}),
      sig: formLinkTag(rotateFormLink(origin, command), options.formKey),
    };
    try {
      await client.views.open({ trigger_id: triggerId, view: rotateModal(meta) });
      return undefined;
    } catch (error) {
      log.warn({ code: errorCode(error) }, "slack.modal_failed");
      return `The form for \`${command.secret}\` could not open (${errorCode(error)}). Run \`/secret rotate ${command.secret}\` again.`;
    }
  }

  app.command(/^\/(lab|secret|host|workshop|labops)$/, async ({ command, ack, client, respond }) => {
    const parsed = parseSlashCommand(command.command, command.text ?? "", options.parseOptions);
    const b = base(command.team_id, command.channel_id, slackUser(command.user_id, command.user_name), {
      responseUrl: command.response_url,
    });
    const outcome = await decide(
      {
        ...b,
        parsed,
        deliveryId: `slack.${command.team_id}.${command.trigger_id}`,
      },
      "command",
    );
    if (outcome.kind === "needs_value") {
      await ack();
      const failed = await openRotateModal(client, command.trigger_id, outcome.command, b.origin);
      if (failed)
        await respond({ response_type: "ephemeral", text: slackMarkup(failed) }).catch(() => undefined);
      return;
    }
    if (outcome.kind === "confirm") {
      await ack({
        response_type: "ephemeral",
        text: slackMarkup(outcome.text),
        blocks: cardBlocks(outcome.card),
      });
      return;
    }
    await ack({ response_type: "ephemeral", text: slackMarkup(outcome.text) });
  });

  // Buttons. Each press has its own trigger_id: the delivery id that makes a replayed payload count once.
  // Bolt checks a payload's outline only: every part read here may be of any type.
  type ActionBody = {
    team?: { id?: unknown } | null;
    user?: { id?: unknown; name?: unknown; username?: unknown };
    channel?: { id?: unknown };
    container?: { message_ts?: unknown; is_ephemeral?: unknown };
    trigger_id?: unknown;
  };
  const pressedAt = (body: ActionBody) => {
    const team = text(body.team?.id);
    const channel = text(body.channel?.id);
    const ts = text(body.container?.message_ts);
    const thread: ThreadRef | undefined =
      ts && body.container?.is_ephemeral !== true
        ? { address: { platform: "slack", tenant: team, channel }, threadId: ts, cardId: ts }
        : undefined;
    const user = slackUser(text(body.user?.id), text(body.user?.username) || text(body.user?.name));
    return {
      deliveryId: `slack.${team}.${text(body.trigger_id) || `${ts}.${clock.now()}`}`,
      origin: originOf(team, channel, user, thread ? { thread } : {}),
      receivedAt: clock.now(),
    };
  };

  // One listener for every button, link buttons (Azure portal) included: Bolt runs each
  // listener's middleware for every request, a slash command's too, so a listener per button
  // cost each acknowledgement five more chains for nothing.
  app.action(BUTTON_PATTERN, async ({ ack, body, action, client, respond }) => {
    await ack();
    const id = (action as { action_id?: unknown }).action_id;
    // A link button opens in the browser; Slack still tells us, and wants only the ack.
    if (!isButtonAction(id)) return;
    const at = pressedAt(body as ActionBody);
    const value: unknown = action.type === "button" ? (action as { value?: unknown }).value : undefined;
    const read = actionToIncoming({ verb: id, data: { value }, ...at, formKey: options.formKey });
    if (!read.ok) {
      log.warn({ code: read.reason, action: id }, "slack.action_refused");
      return answerPress(respond, read.text, false);
    }
    const outcome = await decide(read.incoming, "action");
    const triggerId = text((body as ActionBody).trigger_id);
    if (outcome.kind === "needs_value" && triggerId) {
      const failed = await openRotateModal(client, triggerId, outcome.command, at.origin);
      if (failed) await answerPress(respond, failed, false);
      return;
    }
    // A spent prompt is replaced with its answer, so it cannot be pressed again.
    await answerPress(respond, outcome.text, spendsCard(read.action, outcome));
  });

  app.view(ROTATE_CALLBACK_ID, async ({ ack, view, body }) => {
    const refuse = (message: string) =>
      ack({ response_action: "errors", errors: { [VALUE_ACTION_ID]: withoutMarks(message).slice(0, 1900) } });
    // The workspace is the signed payload's; the channel is what the form was opened with.
    const team = text(body.team?.id) || text(view.team_id);
    const meta = readRotateModalMetadata(view.private_metadata);
    if (!meta || !team) return refuse("This form is out of date; run the command again.");
    const origin = originOf(team, meta.channel, slackUser(text(body.user?.id), text(body.user?.name)));
    const read = actionToIncoming({
      verb: ACTION.rotateSubmit,
      // The typed value goes to the core as it came, which wraps it: never logged, echoed or stored in clear.
      data: { ...meta, value: typedValue(view.state) },
      formKey: options.formKey,
      deliveryId: `slack.${team}.view.${view.id}.${view.hash}`,
      origin,
      receivedAt: clock.now(),
    });
    if (!read.ok) return refuse(read.text);
    const outcome = await decide(read.incoming, "view");
    if (outcome.kind === "queued" || outcome.kind === "duplicate") {
      await ack();
      await chat
        .notify(origin.address, origin.user, outcome.text)
        .catch((error: unknown) => log.warn({ code: errorCode(error) }, "slack.notify_failed"));
      return;
    }
    await refuse(outcome.text);
  });

  app.event("app_mention", async ({ event, body, client }) => {
    const team = (body as { team_id?: string }).team_id ?? "";
    const eventId = (body as { event_id?: string }).event_id ?? `${event.channel}.${event.ts}`;
    const user = slackUser(event.user ?? "");
    const b = base(team, event.channel, user);
    const parsed = parseMessageText(event.text, options.parseOptions);
    // A mention is a message the whole channel reads.
    const outcome = await decide(
      { ...b, parsed, deliveryId: `slack.${team}.${eventId}`, public: true },
      "message",
    );
    if (outcome.kind === "duplicate") return;
    const message =
      outcome.kind === "confirm"
        ? outcome.card
        : outcome.kind === "needs_value"
          ? `To type the value privately, use \`/secret rotate ${outcome.command.secret}\` without a value: a form opens.`
          : outcome.text;
    // "Cannot take commands" means the store is down, and with it the pacer's limits: that answer goes
    // straight to Slack (one per mention), so the user hears it instead of nothing.
    const sent =
      outcome.kind === "unavailable"
        ? client.chat.postEphemeral({
            channel: event.channel,
            user: user.id,
            text: slackMarkup(outcome.text),
          })
        : chat.notify(b.origin.address, user, message);
    await sent.catch((error: unknown) => log.warn({ code: errorCode(error) }, "slack.notify_failed"));
  });

  app.error(async (error) => {
    // Only the code: Bolt's errors can carry the request they failed on.
    log.error({ code: errorCode(error) }, "slack.handler_error");
  });

  async function answerPress(respond: RespondFn, text: string, replace: boolean): Promise<void> {
    await respond({ response_type: "ephemeral", replace_original: replace, text: slackMarkup(text) }).catch(
      (error: unknown) => log.warn({ code: errorCode(error) }, "slack.respond_failed"),
    );
  }

  const listener = httpReceiver?.requestListener;
  return {
    app,
    requestListener: listener ? guardSlackRequests(listener, config.signingSecret, log, clock) : undefined,
    async start() {
      if (socketMode) await app.start();
    },
    async stop() {
      if (socketMode) await app.stop();
    },
  };
}

type ButtonAction = (typeof BUTTON_ACTIONS)[number];
const BUTTON_IDS: ReadonlySet<string> = new Set(BUTTON_ACTIONS);
const isButtonAction = (id: unknown): id is ButtonAction => typeof id === "string" && BUTTON_IDS.has(id);
/** The buttons' action ids exactly, and every link button's (`link.…`). */
const BUTTON_PATTERN = new RegExp(
  `^(?:${BUTTON_ACTIONS.map((id) => id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})$|^link\\.`,
);

/** A string the client sent, or "" for anything else. */
function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** What was typed into the modal's value input, as it came (any type). */
function typedValue(state: unknown): unknown {
  const values = (state as { values?: Record<string, Record<string, { value?: unknown }>> } | undefined)
    ?.values;
  return values?.[VALUE_ACTION_ID]?.[VALUE_ACTION_ID]?.value;
}
