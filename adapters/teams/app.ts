import { type Activity, type ConversationReference, TurnContext } from "botbuilder";
import type { ConnectorClient } from "botframework-connector";
import express, { type Express } from "express";
import { teamsBaseConversation, teamsConversationLimits } from "../../src/chat/limits.ts";
import type { Clock } from "../../src/clock.ts";
import { actionToIncoming, spendsCard } from "../../src/commands/actions.ts";
import { formLinkTag, rotateFormLink } from "../../src/commands/form-link.ts";
import type { Incoming, IntakeDeps, IntakeOutcome } from "../../src/commands/intake.ts";
import { type DeliveryKind, tracedIntake } from "../../src/commands/intake-trace.ts";
import { type ParseOptions, parseMessageText } from "../../src/commands/parse.ts";
import type { ParseResult } from "../../src/commands/types.ts";
import { errorCode } from "../../src/errors.ts";
import { type Logger, newCorrelationId } from "../../src/log.ts";
import type { Card, ChatAddress, ChatUser, ThreadRef } from "../../src/ports/chat.ts";
import type { ConversationReferenceStore } from "../../src/ports/conversations.ts";
import type { RateRequest } from "../../src/ports/rate.ts";
import type { LabopsCloudAdapter } from "./adapter.ts";
import { cardActivity, conversationKey, messageActivity, userConversationKey } from "./chat.ts";
import {
  connectorMemberLookup,
  mentionNames,
  mentionsToLookUp,
  resolveMentions,
  withUserMentions,
} from "./mentions.ts";
import { ADAPTIVE_CARD, adaptiveCard, rotateCard, teamsMarkup } from "./render.ts";

export const TEAMS_MESSAGES_PATH = "/api/messages";

export interface TeamsAppOptions {
  intake: Omit<IntakeDeps, "logger">;
  references: ConversationReferenceStore;
  /** Runs a Bot Connector call under the shared limits (PacedChat.paced). */
  pace: <T>(requests: RateRequest[], call: () => Promise<T>) => Promise<T>;
  logger: Logger;
  parseOptions: ParseOptions;
  /** When a command was received. */
  clock: Pick<Clock, "now">;
  /** `formLinkKey(LABOPS_SECRET_KEY)`: authenticates what the rotate form carries back. */
  formKey: Buffer;
  /** The process's one CloudAdapter (the chat port sends on the same one). */
  adapter: LabopsCloudAdapter;
}

export interface TeamsApp {
  adapter: LabopsCloudAdapter;
  /** Mounts POST /api/messages (JSON body, JWT checked by botbuilder) on the web server's express app. */
  mount(app: Express): void;
  /** Resolves once every quick answer still being sent is out (or has failed and been logged). */
  settle(): Promise<void>;
}

/**
 * Teams' side of the web role, on botbuilder's CloudAdapter. Commands come as
 * messages (with an @mention in channels, plain in a personal chat); buttons
 * as Action.Execute invokes. Each turn ends quickly (CloudAdapter answers
 * Teams' request only when the turn ends): intake decides and queues, the
 * quick answer to a message follows the 200, and a button's answer is the
 * invoke response. Every activity refreshes the stored conversation references, from
 * which workers in other processes post proactively.
 */
export function createTeamsApp(options: TeamsAppOptions): TeamsApp {
  const { logger } = options;
  const log = logger.child({ component: "teams" });
  const { clock } = options;
  const deps: IntakeDeps = { ...options.intake, logger };
  const { adapter } = options;

  function origin(activity: Activity): { address: ChatAddress; user: ChatUser } {
    const channelData = (activity.channelData ?? {}) as {
      tenant?: { id?: string };
      channel?: { id?: string };
    };
    const tenant = activity.conversation.tenantId ?? channelData.tenant?.id ?? "";
    const channel = channelData.channel?.id ?? teamsBaseConversation(activity.conversation.id);
    return {
      address: { platform: "teams", tenant, channel, serviceUrl: activity.serviceUrl },
      user: {
        platform: "teams",
        id: activity.from.aadObjectId ?? activity.from.id,
        ...(activity.from.name ? { name: activity.from.name } : {}),
      },
    };
  }

  async function remember(activity: Activity, address: ChatAddress, user: ChatUser): Promise<void> {
    const reference = TurnContext.getConversationReference(activity) as Partial<ConversationReference>;
    const channelRef = {
      ...reference,
      conversation: { ...reference.conversation, id: teamsBaseConversation(activity.conversation.id) },
    };
    delete channelRef.activityId;
    await Promise.all([
      options.references.save(conversationKey(address), channelRef as Record<string, unknown>),
      options.references.save(userConversationKey(address, user), reference as Record<string, unknown>),
    ]).catch((error: unknown) => log.warn({ code: errorCode(error) }, "teams.reference_not_saved"));
  }

  async function decide(incoming: Incoming, delivery: DeliveryKind): Promise<IntakeOutcome> {
    try {
      return await tracedIntake(incoming, deps, delivery);
    } catch (error) {
      log.error({ code: errorCode(error) }, "teams.intake_failed");
      return {
        kind: "unavailable",
        text: "labops could not take that right now; nothing was changed. Try again.",
      };
    }
  }

  /** The password form for a rotate, tagged for the user and conversation it is opened in. */
  function rotateForm(
    origin: { address: ChatAddress; user: ChatUser },
    command: Extract<IntakeOutcome, { kind: "needs_value" }>["command"],
  ) {
    const { secret, lab, create } = command;
    return rotateCard({
      secret,
      lab,
      create,
      sig: formLinkTag(rotateFormLink(origin, command), options.formKey),
    });
  }

  /** Quick answers sent after their turn's response, until they are out. */
  const inFlight = new Set<Promise<void>>();

  /**
   * The quick answer, under the conversation's limits, sent after the turn:
   * Teams gets its 200 at once and the answer follows as a reply to the
   * message, on the turn's own connector client. Sent within the turn, each
   * answer would hold its turn's response while it waits for a slot, and a
   * burst in one tenant (30 calls a second per app) would keep later turns
   * past Teams' 15 s.
   */
  function answer(
    context: TurnContext,
    address: ChatAddress,
    message: string | Card | Record<string, unknown>,
  ) {
    const client = context.turnState.get<ConnectorClient | undefined>(adapter.ConnectorClientKey);
    const base =
      typeof message === "string" || "title" in message
        ? messageActivity(message as string | Card)
        : { type: "message" as const, attachments: [{ contentType: ADAPTIVE_CARD, content: message }] };
    const activity = TurnContext.applyConversationReference(
      { ...base },
      TurnContext.getConversationReference(context.activity),
    );
    const conversationId = activity.conversation?.id;
    if (!client || !conversationId) {
      log.error({ code: "teams_no_connector" }, "teams.answer_not_sent");
      return;
    }
    afterTurn(address, "teams.answer_not_sent", () =>
      activity.replyToId
        ? client.conversations.replyToActivity(conversationId, activity.replyToId, activity as Activity)
        : client.conversations.sendToConversation(conversationId, activity as Activity),
    );
  }

  /** A Bot Connector call made after the turn, under the conversation's limits, tracked until it is out. */
  function afterTurn(address: ChatAddress, failure: string, send: () => Promise<unknown>): void {
    let sent = false;
    const call = () => {
      sent = true;
      return send();
    };
    const task = options
      .pace(teamsConversationLimits(address), call)
      .catch(async (error: unknown) => {
        if (sent) throw error;
        // The pacer's store (Redis) is unreachable, which is when the answer matters most ("cannot take
        // commands right now"): one answer to one message is sent unpaced rather than not at all.
        log.warn({ code: errorCode(error) }, "teams.answer_unpaced");
        return send();
      })
      .then(() => undefined)
      .catch((error: unknown) => log.error({ code: errorCode(error) }, failure))
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  }

  /**
   * A card returned in an invoke response replaces the pressed card for the
   * presser only; the message itself is updated too (the Bot Connector's
   * Update Activity, as the Agents SDK's REPLACE_FOR_ALL does), so everyone in
   * the conversation sees the spent prompt, not buttons that still look live.
   */
  function replaceForEveryone(context: TurnContext, address: ChatAddress, card: Card): void {
    const client = context.turnState.get<ConnectorClient | undefined>(adapter.ConnectorClientKey);
    const cardId = context.activity.replyToId;
    if (!client || !cardId) return;
    const conversationId = teamsBaseConversation(context.activity.conversation.id);
    afterTurn(address, "teams.card_not_updated", () =>
      client.conversations.updateActivity(conversationId, cardId, {
        ...cardActivity(card),
        id: cardId,
      } as Activity),
    );
  }

  /**
   * The AAD object ids of users a `lab grant`/`lab revoke` mentions by their
   * `29:` id alone, from the Bot Connector under the conversation's limits
   * (the lookup is a connector call like a reply). A lookup that fails, is
   * refused or times out leaves the mention as typed: the parser then asks
   * for a mention picked from the list.
   */
  async function lookUpMembers(
    context: TurnContext,
    address: ChatAddress,
    userIds: string[],
  ): Promise<Map<string, string>> {
    const client = context.turnState.get<ConnectorClient | undefined>(adapter.ConnectorClientKey);
    if (!client) return new Map();
    const lookup = connectorMemberLookup(client, context.activity);
    return resolveMentions(userIds, (userId) => {
      let sent = false;
      const call = () => {
        sent = true;
        return lookup(userId);
      };
      return options.pace(teamsConversationLimits(address), call).catch((error: unknown) => {
        if (sent) {
          log.warn({ code: errorCode(error) }, "teams.member_lookup_failed");
          return undefined;
        }
        // The pacer's store is unreachable: one lookup for one command goes out unpaced, as an answer does.
        log.warn({ code: errorCode(error) }, "teams.lookup_unpaced");
        return lookup(userId);
      });
    });
  }

  async function onMessage(context: TurnContext): Promise<void> {
    const activity = context.activity;
    const { address, user } = origin(activity);
    // Issued first on the same connection, so the references are stored before any job is queued;
    // not awaited first, so the ack does not pay a round trip for them.
    const remembered = remember(activity, address, user);
    const typed = TurnContext.removeRecipientMention(activity) ?? activity.text ?? "";
    const lookUp = mentionsToLookUp(activity, typed);
    const resolved = lookUp.length > 0 ? await lookUpMembers(context, address, lookUp) : undefined;
    const text = withUserMentions(activity, typed, resolved);
    const [, outcome] = await Promise.all([
      remembered,
      decide(
        {
          parsed: withMemberName(parseMessageText(text, options.parseOptions), activity, typed, resolved),
          deliveryId: `teams.${activity.conversation.id}.${activity.id}`,
          correlationId: newCorrelationId(),
          origin: { address, user },
          receivedAt: clock.now(),
          // Only a personal chat is private: a channel or group chat reads the message.
          public: activity.conversation.conversationType !== "personal",
        },
        "message",
      ),
    ]);
    if (outcome.kind === "duplicate") return;
    if (outcome.kind === "confirm") return answer(context, address, outcome.card);
    if (outcome.kind === "needs_value") {
      return answer(context, address, rotateForm({ address, user }, outcome.command));
    }
    return answer(context, address, outcome.text);
  }

  /**
   * Action.Execute: answered in the invoke response, which Teams shows in place
   * of the card or as a message. The verb and `data` are whatever the client
   * sent: the core reads them (src/commands/actions.ts); this only renders.
   */
  async function onExecute(context: TurnContext): Promise<void> {
    const activity = context.activity;
    const { address, user } = origin(activity);
    await remember(activity, address, user);
    const action = field(activity.value, "action");
    // A press on a status card in a channel: the job's replies go to that card's thread.
    const root = activity.conversation.id.split(";messageid=")[1];
    const thread: ThreadRef | undefined =
      root && activity.replyToId ? { address, threadId: root, cardId: activity.replyToId } : undefined;
    const read = actionToIncoming({
      verb: field(action, "verb"),
      data: field(action, "data"),
      deliveryId: `teams.${activity.conversation.id}.${activity.id}`,
      formKey: options.formKey,
      origin: { address, user, ...(thread ? { thread } : {}) },
      receivedAt: clock.now(),
    });
    if (!read.ok) {
      log.warn({ code: read.reason }, "teams.action_refused");
      return invokeMessage(context, read.text);
    }
    const outcome = await decide(read.incoming, "action");
    if (outcome.kind === "needs_value") {
      // A card button asking for a new value: the password form goes into the thread as a new message,
      // so the card it was pressed on stays as it is.
      const { secret } = outcome.command;
      answer(context, address, rotateForm({ address, user }, outcome.command));
      return invokeMessage(context, `Type the new value of ${secret} in the form below.`);
    }
    if (!spendsCard(read.action, outcome)) return invokeMessage(context, outcome.text);
    // The prompt or form is spent: it is replaced with its answer, so it cannot be pressed again,
    // for the presser at once and for everyone else by updating the message.
    const spent: Card =
      outcome.kind === "queued"
        ? { title: "Done", status: "succeeded", text: outcome.text }
        : outcome.kind === "cancelled"
          ? { title: "Answered", status: "cancelled", text: outcome.text }
          : { title: "Not done", status: "warning", text: outcome.text };
    replaceForEveryone(context, address, spent);
    return invokeCard(context, spent);
  }

  async function invokeCard(context: TurnContext, card: Card): Promise<void> {
    await context.sendActivity({
      type: "invokeResponse",
      value: { status: 200, body: { statusCode: 200, type: ADAPTIVE_CARD, value: adaptiveCard(card) } },
    });
  }

  async function invokeMessage(context: TurnContext, text: string): Promise<void> {
    await context.sendActivity({
      type: "invokeResponse",
      value: {
        status: 200,
        body: {
          statusCode: 200,
          type: "application/vnd.microsoft.activity.message",
          value: teamsMarkup(text),
        },
      },
    });
  }

  async function logic(context: TurnContext): Promise<void> {
    const activity = context.activity;
    if (activity.type === "message") return onMessage(context);
    if (activity.type === "invoke" && activity.name === "adaptiveCard/action") return onExecute(context);
    if (activity.type === "conversationUpdate") {
      const { address, user } = origin(activity);
      await remember(activity, address, user);
    }
  }

  return {
    adapter,
    async settle() {
      while (inFlight.size > 0) await Promise.all(inFlight);
    },
    mount(app) {
      app.post(TEAMS_MESSAGES_PATH, express.json({ limit: "1mb" }), (req, res) => {
        adapter.handle(req, res, logic).catch((error: unknown) => {
          log.error({ code: errorCode(error) }, "teams.request_failed");
          if (!res.headersSent) res.status(500).end();
        });
      });
    },
  };
}

/** `value[key]` when `value` is an object, else undefined: an activity's parts may be of any type. */
function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/** A grant's or revoke's member named as the message showed them, for its answer (mentionNames). */
function withMemberName(
  parsed: ParseResult,
  activity: Activity,
  typed: string,
  resolved: ReadonlyMap<string, string> | undefined,
): ParseResult {
  if (!parsed.ok || (parsed.command.kind !== "lab.grant" && parsed.command.kind !== "lab.revoke"))
    return parsed;
  const name = mentionNames(activity, typed, resolved).get(parsed.command.member.toLowerCase());
  return name ? { ok: true, command: { ...parsed.command, memberName: name } } : parsed;
}
