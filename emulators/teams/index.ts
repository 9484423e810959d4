import { createHash, randomBytes, randomUUID } from "node:crypto";
import {
  type ConnectorCall,
  type MintOptions,
  startTeamsEmulatorServer,
  type TeamsAccount,
  type TeamsEmulatorOptions,
  type TeamsEmulatorServer,
  type TeamsMessage,
} from "./emulator.ts";

export * from "./emulator.ts";
export * from "./jwt.ts";

/** What the bot answered to one activity Teams sent it. */
export interface TeamsDelivery {
  status: number;
  /** The HTTP body: an invoke response for invokes, usually empty for messages. */
  body: Record<string, unknown> | undefined;
  activity: Record<string, unknown>;
  /** The message the user wrote (messages only). */
  message?: TeamsMessage;
  /** Sends the same activity again, with the same token unless one is given. */
  replay(options?: { token?: string }): Promise<TeamsDelivery>;
  /** The bot's reply to this activity, once it arrives (bots answer after the HTTP response). */
  answer(timeoutMs?: number): Promise<TeamsMessage>;
}

export interface TeamsEmulator extends TeamsEmulatorServer {
  /** Where Teams sends activities: the bot's /api/messages. */
  setBotEndpoint(url: string): void;
  /** A channel of the emulated team (created on first use). */
  channel(name: string): string;
  /** The personal (1:1) chat between `user` and the bot. */
  personalChat(user: TeamsPerson): string;
  /** A person acting in the tenant; they become a member of its team. */
  as(user: TeamsPerson): TeamsUser;
  /** The `29:` id Teams gives `person` for this bot (opaque; not their AAD object id). */
  userId(person: TeamsPerson): string;
  /** Adds the bot to a channel or chat: Teams sends it a conversationUpdate (membersAdded). */
  install(conversationId: string, by: TeamsPerson): Promise<TeamsDelivery>;
  /** Everything the bot needs to talk to this emulator (add LABOPS_CA_FILE pointing at `caPem`). */
  env(): Record<string, string>;
  rateLimited(): ConnectorCall[];
}

export interface TeamsPerson {
  aadObjectId: string;
  name: string;
}

export interface TeamsUser {
  readonly account: TeamsAccount;
  /**
   * Writes a message: in a channel as a new post (with an @mention of the bot
   * unless `mention: false`), in a personal chat as a plain line.
   */
  say(
    conversationId: string,
    text: string,
    options?: {
      mention?: boolean;
      token?: string;
      /**
       * People the text mentions, each written `<at>Name</at>` in it: the
       * message carries a mention entity for each, as Teams sends it, with
       * their `29:` id and name and no aadObjectId unless `mentionAadObjectIds`.
       */
      mentions?: TeamsPerson[];
      mentionAadObjectIds?: boolean;
    },
  ): Promise<TeamsDelivery>;
  /**
   * The activity `say` would send, without sending it: the message is in the
   * tenant already (the bot's answer finds its thread), the activity is for
   * the caller to post (a load generator that builds its requests ahead).
   */
  compose(
    conversationId: string,
    text: string,
    options?: { mention?: boolean; mentions?: TeamsPerson[]; mentionAadObjectIds?: boolean },
  ): { activity: Record<string, unknown>; message: TeamsMessage };
  /** Presses a card's Action.Execute button (found by verb) on a message. */
  execute(
    message: TeamsMessage,
    verb: string,
    options?: { token?: string; data?: Record<string, unknown> },
  ): Promise<TeamsDelivery>;
  /** Sends any activity as this user, signed like Teams unless a token is given. */
  send(activity: Record<string, unknown>, options?: { token?: string }): Promise<TeamsDelivery>;
}

export async function startTeamsEmulator(options: TeamsEmulatorOptions): Promise<TeamsEmulator> {
  const server = await startTeamsEmulatorServer(options);
  const { tenant } = server;
  const teamId = `19:${randomBytes(8).toString("hex")}@thread.tacv2`;
  const chats = new Map<string, string>();
  let endpoint: string | undefined;
  const bot: TeamsAccount = { id: `28:${options.appId}`, name: options.botName ?? "labops" };

  function channel(name: string): string {
    for (const [id, c] of tenant.channels) if (c.name === name) return id;
    const id = `19:${randomBytes(10).toString("hex")}@thread.tacv2`;
    tenant.channels.set(id, { teamId, name });
    return id;
  }

  function personalChat(user: TeamsPerson): string {
    let id = chats.get(user.aadObjectId);
    if (!id) {
      id = `a:${randomBytes(16).toString("base64url")}`;
      chats.set(user.aadObjectId, id);
      tenant.chats.set(id, user.aadObjectId);
    }
    return id;
  }

  /**
   * A person's Bot Framework user id: opaque in Teams (`29:1…`, one per app
   * and user), never the AAD object id; the same person always gets the same one here.
   */
  function userId(person: TeamsPerson): string {
    const digest = createHash("sha256").update(`${options.appId}\n${person.aadObjectId}`).digest();
    return `29:1${digest.toString("base64url")}`;
  }

  function mentionEntity(person: TeamsPerson, withAadObjectId: boolean) {
    return {
      type: "mention",
      text: `<at>${person.name}</at>`,
      mentioned: {
        id: userId(person),
        name: person.name,
        ...(withAadObjectId ? { aadObjectId: person.aadObjectId } : {}),
      },
    };
  }

  async function post(
    activity: Record<string, unknown>,
    token: string,
  ): Promise<Omit<TeamsDelivery, "replay" | "answer">> {
    if (!endpoint) throw new Error("Teams emulator: call setBotEndpoint(bot's /api/messages) first");
    const res = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(activity),
    });
    const text = await res.text();
    let body: Record<string, unknown> | undefined;
    try {
      body = text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      body = { text };
    }
    return { status: res.status, body, activity };
  }

  function as(user: TeamsPerson): TeamsUser {
    const account: TeamsAccount = { id: userId(user), name: user.name, aadObjectId: user.aadObjectId };
    // Whoever acts in the emulated tenant is a member of its team.
    const mail = `${user.name.toLowerCase().replace(/[^a-z0-9]+/g, ".")}@labops.example`;
    tenant.know({
      id: account.id,
      name: user.name,
      aadObjectId: user.aadObjectId,
      email: mail,
      userPrincipalName: mail,
      tenantId: tenant.tenantId,
      userRole: "user",
    });
    const envelope = (conversationId: string) => {
      const isChannel = tenant.isChannel(conversationId);
      const base = conversationId.split(";messageid=")[0] ?? conversationId;
      return {
        channelId: "msteams",
        serviceUrl: server.serviceUrl,
        timestamp: new Date().toISOString(),
        locale: "en-US",
        from: account,
        recipient: bot,
        conversation: isChannel
          ? { isGroup: true, conversationType: "channel", tenantId: tenant.tenantId, id: conversationId }
          : { conversationType: "personal", tenantId: tenant.tenantId, id: conversationId },
        channelData: isChannel
          ? {
              teamsChannelId: base,
              teamsTeamId: teamId,
              channel: { id: base },
              team: { id: teamId },
              tenant: { id: tenant.tenantId },
            }
          : { tenant: { id: tenant.tenantId } },
      };
    };

    async function send(
      activity: Record<string, unknown>,
      opts: { token?: string } = {},
    ): Promise<TeamsDelivery> {
      const token = opts.token ?? server.mintInbound();
      const result = await post(activity, token);
      const id = activity.id;
      return {
        ...result,
        replay: (again = {}) => send(activity, { token: again.token ?? token }),
        answer: (timeoutMs) =>
          tenant.waitFor(
            (m) => m.from.role === "bot" && id !== undefined && m.replyToId === id,
            timeoutMs,
            `answer to activity ${String(id)}`,
          ),
      };
    }

    function compose(
      conversationId: string,
      text: string,
      opts: { mention?: boolean; mentions?: TeamsPerson[]; mentionAadObjectIds?: boolean } = {},
    ): { activity: Record<string, unknown>; message: TeamsMessage } {
      const isChannel = tenant.isChannel(conversationId);
      const mention = opts.mention ?? isChannel;
      const shown = mention ? `<at>${bot.name}</at> ${text}` : text;
      const entities: Record<string, unknown>[] = mention
        ? [{ type: "mention", text: `<at>${bot.name}</at>`, mentioned: { id: bot.id, name: bot.name } }]
        : [];
      for (const person of opts.mentions ?? [])
        entities.push(mentionEntity(person, opts.mentionAadObjectIds ?? false));
      const message = tenant.add({ conversationId, from: account, text: shown, attachments: [], entities });
      const activity = {
        ...envelope(isChannel ? `${conversationId};messageid=${message.id}` : conversationId),
        type: "message",
        id: message.id,
        text: shown,
        textFormat: "plain",
        entities,
      };
      return { activity, message };
    }

    return {
      account,
      compose,
      async say(conversationId, text, opts = {}) {
        const { activity, message } = compose(conversationId, text, opts);
        const delivery = await send(activity, opts.token !== undefined ? { token: opts.token } : {});
        return { ...delivery, message };
      },
      async execute(message, verb, opts = {}) {
        const action = findAction(message, verb);
        if (!action) throw new Error(`Teams emulator: no Action.Execute "${verb}" on message ${message.id}`);
        const conversationId = tenant.isChannel(message.conversationId)
          ? `${message.conversationId};messageid=${message.threadRootId ?? message.id}`
          : message.conversationId;
        const activity = {
          ...envelope(conversationId),
          type: "invoke",
          name: "adaptiveCard/action",
          id: `f:${randomUUID()}`,
          replyToId: message.id,
          value: {
            action: { type: "Action.Execute", id: action.id, verb, data: { ...action.data, ...opts.data } },
            trigger: "manual",
          },
        };
        const delivery = await send(activity, opts.token !== undefined ? { token: opts.token } : {});
        applyInvokeResponse(message, delivery, user.aadObjectId);
        return delivery;
      },
      send,
    };
  }

  /**
   * Teams replaces the card or shows the text, as the invoke response says. A
   * card replaces it for the presser only (Universal Actions): the others see
   * the message unchanged until the bot updates it for everyone.
   */
  function applyInvokeResponse(message: TeamsMessage, delivery: TeamsDelivery, by: string): void {
    const body = delivery.body;
    if (delivery.status !== 200 || !body) return;
    if (body.type === "application/vnd.microsoft.card.adaptive" && typeof body.value === "object") {
      const attachments = [{ contentType: "application/vnd.microsoft.card.adaptive", content: body.value }];
      message.views = [...message.views.filter((v) => v.to !== by), { to: by, attachments }];
    } else if (body.type === "application/vnd.microsoft.activity.message" && typeof body.value === "string") {
      message.toasts.push({ to: by, text: body.value });
    }
  }

  async function install(conversationId: string, by: TeamsPerson): Promise<TeamsDelivery> {
    const user = as(by);
    const isChannel = tenant.isChannel(conversationId);
    const base = conversationId.split(";messageid=")[0] ?? conversationId;
    return user.send({
      type: "conversationUpdate",
      id: `f:${randomUUID()}`,
      channelId: "msteams",
      serviceUrl: server.serviceUrl,
      timestamp: new Date().toISOString(),
      from: user.account,
      recipient: bot,
      membersAdded: [{ id: bot.id }],
      conversation: isChannel
        ? { isGroup: true, conversationType: "channel", tenantId: tenant.tenantId, id: base }
        : { conversationType: "personal", tenantId: tenant.tenantId, id: base },
      channelData: isChannel
        ? {
            eventType: "teamMemberAdded",
            channel: { id: base },
            team: { id: teamId },
            tenant: { id: tenant.tenantId },
          }
        : { tenant: { id: tenant.tenantId } },
    });
  }

  return {
    ...server,
    install,
    setBotEndpoint(url) {
      endpoint = url;
    },
    channel,
    personalChat,
    as,
    userId,
    env() {
      return {
        MICROSOFT_APP_ID: options.appId,
        MICROSOFT_APP_PASSWORD: options.appPassword,
        MICROSOFT_APP_TENANT_ID: options.tenantId,
        MICROSOFT_APP_TYPE: "SingleTenant",
        BOTFRAMEWORK_OPENID_METADATA_URL: server.openIdMetadataUrl,
        BOTFRAMEWORK_TOKEN_ISSUER: server.tokenIssuer,
        BOTFRAMEWORK_LOGIN_URL: server.loginUrl,
      };
    },
    rateLimited: () => tenant.calls.filter((c) => c.status === 429),
  };
}

/** An Action.Execute of a message's Adaptive Card, searched through nested containers. */
export function findAction(
  message: TeamsMessage,
  verb: string,
): { id?: string; data: Record<string, unknown> } | undefined {
  const visit = (node: unknown): { id?: string; data: Record<string, unknown> } | undefined => {
    if (Array.isArray(node)) {
      for (const n of node) {
        const found = visit(n);
        if (found) return found;
      }
      return undefined;
    }
    if (typeof node !== "object" || node === null) return undefined;
    const o = node as Record<string, unknown>;
    if (o.type === "Action.Execute" && o.verb === verb) {
      return {
        ...(typeof o.id === "string" ? { id: o.id } : {}),
        data: (o.data ?? {}) as Record<string, unknown>,
      };
    }
    for (const v of Object.values(o)) {
      const found = visit(v);
      if (found) return found;
    }
    return undefined;
  };
  for (const a of message.attachments) {
    const found = visit(a.content);
    if (found) return found;
  }
  return undefined;
}

export type { MintOptions };
