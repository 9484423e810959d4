import { randomBytes, randomUUID } from "node:crypto";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { type LimitRule, retryAfterSeconds, ServerRateLimits } from "../shared/limits.ts";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueServerCertificate,
} from "../shared/tls.ts";
import { checkTimes, newSigningKey, type SigningKey, signJwt, verifyJwt } from "./jwt.ts";

/**
 * An emulated Microsoft Teams tenant as a bot meets it:
 * - the Bot Connector API at a serviceUrl with a path (`/amer/`): send to a
 *   conversation, reply to an activity, update an activity, each checked
 *   for the bot's token and held to Teams' limits;
 * - the Bot Framework's OpenID metadata and JWKS, and a minter that signs
 *   inbound activities as the Bot Framework service does (iss, aud = app id,
 *   serviceurl, kid in the JWKS endorsed for `msteams`);
 * - an Entra ID-like authority over HTTPS (MSAL insists on https) that issues
 *   the bot's outbound token for https://api.botframework.com/.default;
 * - the tenant's channels and chats as their members see them.
 *
 * Limits (learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit):
 * per bot per conversation (a channel with all its threads, a chat) 7 per
 * second, 8 per 2 s, 60 per 30 s, 1800 per hour; per app per tenant 30
 * requests per second. Over them: 429 with Retry-After.
 */

export interface TeamsAccount {
  id: string;
  name?: string;
  aadObjectId?: string;
  role?: "user" | "bot";
}

/**
 * A member as the Bot Connector answers GET /v3/conversations/{id}/members/{userId}:
 * a TeamsChannelAccount (botframework-schema, libraries/botframework-schema/src/teams/index.ts).
 */
export interface TeamsChannelAccount {
  id: string;
  name: string;
  aadObjectId: string;
  givenName?: string;
  surname?: string;
  email: string;
  userPrincipalName: string;
  tenantId: string;
  userRole: "user" | "guest" | "anonymous";
}

export interface TeamsMessage {
  id: string;
  /** The channel or chat, without `;messageid=`. */
  conversationId: string;
  /** In a channel: the root of the thread this reply belongs to. */
  threadRootId?: string;
  /** The activity a bot answered with replyToActivity, as Teams records it. */
  replyToId?: string;
  from: TeamsAccount;
  text: string;
  attachments: Array<{ contentType: string; content: unknown }>;
  entities: unknown[];
  edits: number;
  timestamp: string;
  /** Text shown to whoever pressed a card's action (an invoke answered with a message), by AAD object id. */
  toasts: Array<{ to: string; text: string }>;
  /**
   * The card as one user sees it, by AAD object id: a card returned in an
   * Action.Execute's invoke response replaces the card for the user who
   * pressed it only (Universal Actions, learn.microsoft.com/microsoftteams/
   * platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/
   * work-with-universal-actions-for-adaptive-cards). Everyone else keeps the
   * message as it is until the bot updates it (PUT .../activities/{id},
   * the Bot Connector's Update Activity), which replaces every such view.
   */
  views: Array<{ to: string; attachments: Array<{ contentType: string; content: unknown }> }>;
}

export interface ConnectorCall {
  method: string;
  path: string;
  status: number;
  at: number;
  /** The limit that refused it, for a 429. */
  limit?: string;
}

export interface TeamsEmulatorOptions {
  appId: string;
  appPassword: string;
  tenantId: string;
  botName?: string;
  /** Divides the rate-limit windows (the time scale of a test or demo). */
  timeScale?: number;
  rateLimits?: boolean;
  /** The regional path of the serviceUrl; Teams uses e.g. /amer/, /emea/. */
  region?: string;
  /** The world's CA, to share one with other emulators (one LABOPS_CA_FILE); a new one when absent. */
  ca?: CertificateAuthority;
}

const CONVERSATION_LIMIT: LimitRule = {
  kind: "windows",
  windows: [
    { windowMs: 1_000, max: 7 },
    { windowMs: 2_000, max: 8 },
    { windowMs: 30_000, max: 60 },
    { windowMs: 3_600_000, max: 1_800 },
  ],
};
const APP_LIMIT: LimitRule = { kind: "windows", windows: [{ windowMs: 1_000, max: 30 }] };
/** Teams refuses messages over about 28 KB. */
const MAX_ACTIVITY_BYTES = 28 * 1024;
export const BOT_FRAMEWORK_SCOPE = "https://api.botframework.com";

async function readRaw(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
  res.end(body === undefined ? "" : JSON.stringify(body));
}

export function baseConversation(id: string): { base: string; threadRootId?: string } {
  const cut = id.indexOf(";messageid=");
  if (cut < 0) return { base: id };
  return { base: id.slice(0, cut), threadRootId: id.slice(cut + ";messageid=".length) };
}

export class TeamsTenant {
  readonly tenantId: string;
  readonly messages: TeamsMessage[] = [];
  readonly calls: ConnectorCall[] = [];
  readonly channels = new Map<string, { teamId: string; name: string }>();
  /** The people of the tenant's team, by their `29:` user id: everyone the emulator has seen act. */
  readonly people = new Map<string, TeamsChannelAccount>();
  /** Personal chats with the bot: chat id → the user's AAD object id. */
  readonly chats = new Map<string, string>();
  /** How long the Bot Connector takes to answer a member lookup (a slow service, for timeouts). */
  memberLookupDelayMs = 0;
  #seq = 0;
  /**
   * `find` without a scan: every reply and edit looks its message up, and the
   * bot's CPU in the benches counts this in-process emulator's too.
   */
  readonly #byId = new Map<string, TeamsMessage>();
  readonly #watchers = new Set<(m: TeamsMessage) => void>();

  constructor(tenantId: string) {
    this.tenantId = tenantId;
  }

  /** Teams message ids are epoch milliseconds; unique and increasing here. */
  nextId(): string {
    this.#seq += 1;
    return `${Date.now()}${String(this.#seq).padStart(4, "0")}`;
  }

  /** Adds a person to the team (and so to every channel of it). */
  know(account: TeamsChannelAccount): void {
    this.people.set(account.id, account);
  }

  /**
   * A member of a conversation, by `29:` user id, as the Bot Connector finds
   * them: in a channel or the team (its id is channelData.team.id), anyone of
   * the team; in a personal chat, its user alone. `undefined` for someone not
   * in it, "no_conversation" for a conversation Teams does not know.
   */
  member(conversationId: string, userId: string): TeamsChannelAccount | undefined | "no_conversation" {
    const { base } = baseConversation(conversationId);
    const person = this.people.get(userId);
    const chatUser = this.chats.get(base);
    if (chatUser !== undefined) return person?.aadObjectId === chatUser ? person : undefined;
    const inTeam = this.isChannel(base) || [...this.channels.values()].some((c) => c.teamId === base);
    if (!inTeam) return "no_conversation";
    return person;
  }

  isChannel(conversationId: string): boolean {
    return this.channels.has(baseConversation(conversationId).base);
  }

  find(conversationId: string, id: string): TeamsMessage | undefined {
    return this.#byId.get(`${baseConversation(conversationId).base}\n${id}`);
  }

  add(
    message: Omit<TeamsMessage, "id" | "edits" | "timestamp" | "toasts" | "views"> & { id?: string },
  ): TeamsMessage {
    const m: TeamsMessage = {
      ...message,
      id: message.id ?? this.nextId(),
      edits: 0,
      timestamp: new Date().toISOString(),
      toasts: [],
      views: [],
    };
    this.messages.push(m);
    // The first of a conversation's messages with an id, as a scan of `messages` finds it.
    const key = `${m.conversationId}\n${m.id}`;
    if (!this.#byId.has(key)) this.#byId.set(key, m);
    for (const watcher of this.#watchers) watcher(m);
    return m;
  }

  /**
   * The first message (already here or still to come) that `matches`; rejects
   * after `timeoutMs`. Bots answer after Teams' request has its response, so
   * what a user sees next is waited for, not assumed.
   */
  waitFor(
    matches: (m: TeamsMessage) => boolean,
    timeoutMs = 10_000,
    what = "message",
  ): Promise<TeamsMessage> {
    const present = this.messages.find(matches);
    if (present) return Promise.resolve(present);
    return new Promise((resolve, reject) => {
      const watcher = (m: TeamsMessage) => {
        if (!matches(m)) return;
        clearTimeout(timer);
        this.#watchers.delete(watcher);
        resolve(m);
      };
      const timer = setTimeout(() => {
        this.#watchers.delete(watcher);
        reject(new Error(`Teams emulator: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#watchers.add(watcher);
    });
  }

  /** A message as the user with AAD object id `aad` sees it: their own view of its card, if they have one. */
  seenBy(m: TeamsMessage, aad: string): TeamsMessage {
    const view = m.views.find((v) => v.to === aad);
    return view ? { ...m, attachments: view.attachments } : m;
  }

  /** A channel or chat as its members see it: root posts oldest first, each with its replies. */
  conversation(conversationId: string): Array<TeamsMessage & { replies: TeamsMessage[] }> {
    const { base } = baseConversation(conversationId);
    const here = this.messages.filter((m) => m.conversationId === base);
    if (!this.isChannel(base)) return here.map((m) => ({ ...m, replies: [] }));
    return here
      .filter((m) => m.threadRootId === undefined)
      .map((root) => ({ ...root, replies: here.filter((m) => m.threadRootId === root.id) }));
  }
}

export interface TeamsEmulatorServer {
  readonly url: string;
  /** http://127.0.0.1:PORT/amer/ — what activities carry as serviceUrl. */
  readonly serviceUrl: string;
  readonly openIdMetadataUrl: string;
  readonly tokenIssuer: string;
  /** https://127.0.0.1:PORT — BOTFRAMEWORK_LOGIN_URL. */
  readonly loginUrl: string;
  /** PEM the bot must trust for the login authority (LABOPS_CA_FILE). */
  readonly caPem: string;
  readonly tenant: TeamsTenant;
  readonly limits: ServerRateLimits;
  readonly options: TeamsEmulatorOptions;
  /** The key inbound activities are signed with; its kid is in the JWKS. */
  readonly inboundKey: SigningKey;
  /** Signs an inbound token as the Bot Framework service does; overrides make forgeries. */
  mintInbound(overrides?: MintOptions): string;
  close(): Promise<void>;
}

export interface MintOptions {
  aud?: string;
  iss?: string;
  serviceUrl?: string;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  /** Seconds from now the token becomes valid. */
  notBefore?: number;
  /** Sign with a key that is not in the JWKS, under the published kid (a forgery). */
  forged?: boolean;
}

export async function startTeamsEmulatorServer(options: TeamsEmulatorOptions): Promise<TeamsEmulatorServer> {
  const tenant = new TeamsTenant(options.tenantId);
  const limits = new ServerRateLimits({ timeScale: options.timeScale ?? 1 });
  const region = `/${(options.region ?? "amer").replace(/^\/|\/$/g, "")}/`;
  const inboundKey = newSigningKey({ endorsements: ["msteams"] });
  const forger = newSigningKey({ kid: inboundKey.kid });
  const loginKey = newSigningKey();
  let base = "";
  let loginBase = "";
  const botAccountId = `28:${options.appId}`;

  // Bot Connector, OpenID metadata, and a read-only view of the tenant for tests and the demo page.
  const server: Server = createHttpServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://x");
      if (req.method === "GET" && url.pathname === "/botframework/v1/.well-known/openidconfiguration") {
        return json(res, 200, {
          issuer: `${base}/botframework`,
          authorization_endpoint: `${base}/botframework/v1/authorize`,
          jwks_uri: `${base}/botframework/v1/.well-known/keys`,
          id_token_signing_alg_values_supported: ["RS256"],
          token_endpoint_auth_methods_supported: ["private_key_jwt"],
        });
      }
      if (req.method === "GET" && url.pathname === "/botframework/v1/.well-known/keys") {
        return json(res, 200, { keys: [inboundKey.jwk] });
      }
      const view = /^\/_emulator\/conversations\/(.+)$/.exec(url.pathname);
      if (req.method === "GET" && view?.[1]) {
        const id = decodeURIComponent(view[1]);
        return json(res, 200, { conversationId: id, messages: tenant.conversation(id) });
      }
      if (url.pathname.startsWith(`${region}v3/conversations/`)) return await connector(req, res, url);
      return json(res, 404, { error: { code: "NotFound", message: "No such endpoint" } });
    } catch (error) {
      return json(res, 500, { error: { code: "ServiceError", message: String(error) } });
    }
  });

  async function connector(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const rest = url.pathname.slice(`${region}v3/conversations/`.length).split("/");
    const conversationId = decodeURIComponent(rest[0] ?? "");
    const activityId = rest[2] !== undefined ? decodeURIComponent(rest[2]) : undefined;
    const call: ConnectorCall = { method: req.method ?? "", path: url.pathname, status: 200, at: Date.now() };
    tenant.calls.push(call);
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      json(res, status, body, headers);
    };

    const auth = verifyBotToken(req.headers.authorization);
    if (!auth.ok)
      return answer(401, { message: "Authorization has been denied for this request.", reason: auth.reason });
    const { base: conv, threadRootId } = baseConversation(conversationId);
    if (options.rateLimits ?? true) {
      const verdict = limits.take([
        { key: `conv:${conv}`, rule: CONVERSATION_LIMIT },
        { key: "app", rule: APP_LIMIT },
      ]);
      if (!verdict.ok) {
        call.limit = verdict.rule;
        return answer(
          429,
          { error: { code: "TooManyRequests", message: "Rate limit exceeded for this conversation." } },
          { "retry-after": String(retryAfterSeconds(verdict.retryAfterMs)) },
        );
      }
    }
    if (rest[1] === "members") return members(req.method ?? "", rest[2], conv, answer);
    const raw = await readRaw(req);
    if (Buffer.byteLength(raw) > MAX_ACTIVITY_BYTES) {
      return answer(413, { error: { code: "MessageSizeTooBig", message: "Activity is larger than 28 KB." } });
    }
    let activity: Record<string, unknown>;
    try {
      activity = raw === "" ? {} : (JSON.parse(raw) as Record<string, unknown>);
    } catch {
      return answer(400, { error: { code: "BadSyntax", message: "Body is not JSON." } });
    }
    const problem = activityProblem(activity);
    if (problem) return answer(400, { error: { code: "BadArgument", message: problem } });
    const content = {
      text: typeof activity.text === "string" ? activity.text : "",
      attachments: (activity.attachments ?? []) as TeamsMessage["attachments"],
      entities: (activity.entities ?? []) as unknown[],
    };
    const channel = tenant.isChannel(conv);

    if (req.method === "PUT" && activityId) {
      const found = tenant.find(conv, activityId);
      if (!found) return answer(404, { error: { code: "ActivityNotFound", message: "No such activity." } });
      if (found.from.id !== botAccountId)
        return answer(403, { error: { code: "Forbidden", message: "Not the bot's message." } });
      found.text = content.text;
      found.attachments = content.attachments;
      // The update reaches every member: no one keeps a card of their own any more.
      found.views = [];
      found.edits += 1;
      return answer(200, { id: found.id });
    }
    if (req.method !== "POST")
      return answer(405, { error: { code: "MethodNotAllowed", message: "Not emulated." } });

    // Where the new message goes: a thread named in the conversation id, the thread of the
    // activity replied to, or a new post (Teams posts a reply to an unknown activity as new).
    let root: string | undefined = threadRootId;
    if (root === undefined && activityId !== undefined && channel) {
      const replied = tenant.find(conv, activityId);
      root = replied ? (replied.threadRootId ?? replied.id) : undefined;
    }
    if (root !== undefined && channel && !tenant.find(conv, root)) {
      return answer(404, { error: { code: "ConversationNotFound", message: "No such thread." } });
    }
    const m = tenant.add({
      conversationId: conv,
      ...(channel && root !== undefined ? { threadRootId: root } : {}),
      ...(activityId !== undefined ? { replyToId: activityId } : {}),
      from: { id: botAccountId, name: options.botName ?? "labops", role: "bot" },
      ...content,
    });
    return answer(201, { id: m.id });
  }

  /**
   * GET /v3/conversations/{conversationId}/members/{memberId}: the Bot
   * Connector's Get Conversation Member (botbuilder-js libraries/
   * botframework-connector/src/connectorApi/operations/conversations.ts,
   * `getConversationMember`; TeamsInfo.getMember calls it on the team's id in
   * a channel). A TeamsChannelAccount for a member; for anyone else the Bot
   * Framework's ErrorResponse with code MemberNotFoundInConversation, the code
   * Microsoft's Teams samples test a failed TeamsInfo.getMember for
   * (BotBuilder-Samples, samples/javascript_nodejs/57.teams-conversation-bot/
   * bots/teamsConversationBot.js: `e.code ===
   * 'MemberNotFoundInConversation'`). The status is not documented; 404 here.
   */
  async function members(
    method: string,
    rawMemberId: string | undefined,
    conversationId: string,
    answer: (status: number, body: unknown) => void,
  ): Promise<void> {
    if (method !== "GET" || rawMemberId === undefined || rawMemberId === "")
      return answer(405, { error: { code: "MethodNotAllowed", message: "Not emulated." } });
    if (tenant.memberLookupDelayMs > 0)
      // Unref'd: a lookup still held when the emulator closes keeps no process alive.
      await new Promise((resolve) => setTimeout(resolve, tenant.memberLookupDelayMs).unref());
    const found = tenant.member(conversationId, decodeURIComponent(rawMemberId));
    if (found === "no_conversation")
      return answer(404, { error: { code: "ConversationNotFound", message: "Conversation not found." } });
    if (!found)
      return answer(404, {
        error: {
          code: "MemberNotFoundInConversation",
          message: "The member is not part of the conversation.",
        },
      });
    return answer(200, found);
  }

  const verifiedBotTokens = new Map<string, Record<string, unknown>>();
  function verifyBotToken(header: string | undefined): { ok: true } | { ok: false; reason: string } {
    const token = header?.startsWith("Bearer ") ? header.slice(7) : undefined;
    if (!token) return { ok: false, reason: "no_token" };
    // A bot sends the same token for an hour: its signature is checked once (as a service caches a
    // validated bearer), its times and claims on every call.
    const signed = verifiedBotTokens.get(token);
    const verified = signed === undefined ? verifyJwt(token, [loginKey]) : checkTimes(signed);
    if (!verified.ok) return verified;
    if (signed === undefined) {
      if (verifiedBotTokens.size >= 1_000) verifiedBotTokens.clear();
      verifiedBotTokens.set(token, verified.payload);
    }
    const { aud, appid, azp, tid } = verified.payload;
    if (aud !== BOT_FRAMEWORK_SCOPE) return { ok: false, reason: "audience" };
    if ((appid ?? azp) !== options.appId) return { ok: false, reason: "app" };
    if (tid !== options.tenantId && tid !== "botframework.com") return { ok: false, reason: "tenant" };
    return { ok: true };
  }

  // The Entra ID-like authority, over HTTPS with a certificate of the emulator's own CA.
  const ca = options.ca ?? (await createCertificateAuthority("labops Teams emulator CA"));
  const leaf = await issueServerCertificate(ca);
  const login = createHttpsServer({ cert: leaf.cert, key: leaf.key }, async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "https://x");
      const [, tid = "", ...path] = url.pathname.split("/");
      const route = path.join("/");
      if (req.method === "GET" && route === "v2.0/.well-known/openid-configuration") {
        return json(res, 200, {
          issuer: `${loginBase}/${tid}/v2.0`,
          authorization_endpoint: `${loginBase}/${tid}/oauth2/v2.0/authorize`,
          token_endpoint: `${loginBase}/${tid}/oauth2/v2.0/token`,
          jwks_uri: `${loginBase}/${tid}/discovery/v2.0/keys`,
          end_session_endpoint: `${loginBase}/${tid}/oauth2/v2.0/logout`,
          response_types_supported: ["code", "id_token", "token"],
          id_token_signing_alg_values_supported: ["RS256"],
        });
      }
      if (req.method === "GET" && route === "discovery/v2.0/keys")
        return json(res, 200, { keys: [loginKey.jwk] });
      if (req.method === "POST" && route === "oauth2/v2.0/token") {
        const form = new URLSearchParams(await readRaw(req));
        const aadError = (status: number, error: string, description: string) =>
          json(res, status, {
            error,
            error_description: description,
            error_codes: [],
            timestamp: new Date().toISOString(),
          });
        if (form.get("grant_type") !== "client_credentials")
          return aadError(400, "unsupported_grant_type", "AADSTS70003");
        if (tid !== options.tenantId && tid !== "botframework.com")
          return aadError(400, "invalid_request", "AADSTS90002: Tenant not found.");
        if (form.get("client_id") !== options.appId)
          return aadError(400, "unauthorized_client", "AADSTS700016: Application not found.");
        if (form.get("client_secret") !== options.appPassword)
          return aadError(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.");
        if (form.get("scope") !== `${BOT_FRAMEWORK_SCOPE}/.default`)
          return aadError(400, "invalid_scope", "AADSTS70011: The provided scope is not valid.");
        const now = Math.floor(Date.now() / 1000);
        const token = signJwt(
          {
            aud: BOT_FRAMEWORK_SCOPE,
            iss: `${loginBase}/${tid}/v2.0`,
            iat: now,
            nbf: now,
            exp: now + 3600,
            appid: options.appId,
            azp: options.appId,
            tid,
            ver: "2.0",
            sub: randomUUID(),
          },
          loginKey,
        );
        return json(res, 200, {
          token_type: "Bearer",
          expires_in: 3599,
          ext_expires_in: 3599,
          access_token: token,
        });
      }
      return json(res, 404, { error: "not_found" });
    } catch (error) {
      return json(res, 500, { error: "server_error", error_description: String(error) });
    }
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  await new Promise<void>((resolve) => login.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  loginBase = `https://127.0.0.1:${(login.address() as AddressInfo).port}`;
  const serviceUrl = `${base}${region}`;
  const tokenIssuer = `${base}/botframework`;

  return {
    url: base,
    serviceUrl,
    openIdMetadataUrl: `${base}/botframework/v1/.well-known/openidconfiguration`,
    tokenIssuer,
    loginUrl: loginBase,
    caPem: ca.cert,
    tenant,
    limits,
    options,
    inboundKey,
    mintInbound(o: MintOptions = {}) {
      const now = Math.floor(Date.now() / 1000);
      return signJwt(
        {
          iss: o.iss ?? tokenIssuer,
          aud: o.aud ?? options.appId,
          serviceurl: o.serviceUrl ?? serviceUrl,
          nbf: now + (o.notBefore ?? -60),
          iat: now - 60,
          exp: now + (o.expiresIn ?? 3600),
          jti: randomBytes(8).toString("hex"),
        },
        o.forged ? forger : inboundKey,
        inboundKey.kid,
      );
    },
    async close() {
      await Promise.all(
        [server, login].map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
    },
  };
}

/** What Teams would refuse in an outgoing activity. */
function activityProblem(activity: Record<string, unknown>): string | undefined {
  if (activity.type !== "message") return "only message activities are emulated";
  const attachments = activity.attachments;
  const hasText = typeof activity.text === "string" && activity.text !== "";
  if (!hasText && (!Array.isArray(attachments) || attachments.length === 0))
    return "a message needs text or an attachment";
  if (attachments !== undefined) {
    if (!Array.isArray(attachments) || attachments.length > 10) return "at most 10 attachments";
    for (const a of attachments as Array<Record<string, unknown>>) {
      if (a.contentType !== "application/vnd.microsoft.card.adaptive") continue;
      const card = a.content as Record<string, unknown> | undefined;
      if (card?.type !== "AdaptiveCard") return "an adaptive card attachment needs type AdaptiveCard";
      const version = Number(card.version ?? "0");
      if (!(version >= 1 && version <= 1.5)) return "Teams renders Adaptive Cards up to version 1.5";
      if (!Array.isArray(card.body)) return "an adaptive card needs a body";
    }
  }
  return undefined;
}
