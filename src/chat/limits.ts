import type { ChatAddress, ChatUser, ThreadRef } from "../ports/chat.ts";
import type { RateRequest, RateWindow } from "../ports/rate.ts";

/**
 * What each chat operation counts against, per platform: the published
 * limits with a safety margin, so that the jitter between when we send and
 * when the platform counts never tips a window over. Keys are namespaced by
 * platform and tenant; the RateLimiter shares them across processes.
 *
 * Slack (https://docs.slack.dev/apis/web-api/rate-limits, method pages):
 * - chat.postMessage: about 1 per second per channel ("short bursts >1
 *   allowed"), plus a workspace-wide limit of "several hundred per minute".
 * - chat.update: Tier 3, 50+ per minute per workspace.
 * - chat.postEphemeral: Tier 4, 100+ per minute per workspace.
 * On top, our own rule: at most one update per message per second.
 *
 * Teams (learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit):
 * - per bot per conversation (a 1:1 chat, a group chat or a whole channel),
 *   for sending, replying and updating: 7 per 1 s, 8 per 2 s, 60 per 30 s,
 *   1800 per hour;
 * - per app per tenant: 30 requests per second.
 */

export interface ChatRatePolicy {
  /** A new top-level message in `address` (a thread's root or an alert). */
  post(address: ChatAddress): RateRequest[];
  /** A message in the thread. */
  reply(thread: ThreadRef): RateRequest[];
  /** A rewrite of the thread's card. */
  update(thread: ThreadRef): RateRequest[];
  /** A message for one user. */
  notify(address: ChatAddress, user: ChatUser): RateRequest[];
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

const ONE_PER_SECOND: RateWindow[] = [{ windowMs: SECOND, max: 1 }];

export const slackRatePolicy: ChatRatePolicy = {
  post: (address) => slackPost(address),
  reply: (thread) => slackPost(thread.address),
  update: (thread) => [
    {
      key: `slack:${thread.address.tenant}:msg:${thread.address.channel}:${thread.cardId}`,
      windows: ONE_PER_SECOND,
    },
    { key: `slack:${thread.address.tenant}:chat.update`, windows: [{ windowMs: MINUTE, max: 45 }] },
  ],
  notify: (address) => [
    { key: `slack:${address.tenant}:chat.postEphemeral`, windows: [{ windowMs: MINUTE, max: 90 }] },
  ],
};

function slackPost(address: ChatAddress): RateRequest[] {
  return [
    { key: `slack:${address.tenant}:post:${address.channel}`, windows: ONE_PER_SECOND },
    { key: `slack:${address.tenant}:chat.postMessage`, windows: [{ windowMs: MINUTE, max: 270 }] },
  ];
}

/** Teams counts a channel's threads as one conversation: `19:x@thread.tacv2;messageid=1` belongs to `19:x@thread.tacv2`. */
export function teamsBaseConversation(conversationId: string): string {
  const cut = conversationId.indexOf(";messageid=");
  return cut < 0 ? conversationId : conversationId.slice(0, cut);
}

const TEAMS_CONVERSATION: RateWindow[] = [
  { windowMs: SECOND, max: 6 },
  { windowMs: 2 * SECOND, max: 7 },
  { windowMs: 30 * SECOND, max: 54 },
  { windowMs: HOUR, max: 1620 },
];

/** Every Bot Connector call a Teams conversation sees, whoever makes it (worker or web turn). */
export function teamsConversationLimits(address: ChatAddress): RateRequest[] {
  return [
    {
      key: `teams:${address.tenant}:conv:${teamsBaseConversation(address.channel)}`,
      windows: TEAMS_CONVERSATION,
    },
    { key: `teams:${address.tenant}:app`, windows: [{ windowMs: SECOND, max: 27 }] },
  ];
}

export const teamsRatePolicy: ChatRatePolicy = {
  post: (address) => teamsConversationLimits(address),
  reply: (thread) => teamsConversationLimits(thread.address),
  update: (thread) => [
    ...teamsConversationLimits(thread.address),
    { key: `teams:${thread.address.tenant}:msg:${thread.cardId}`, windows: ONE_PER_SECOND },
  ],
  notify: (address) => teamsConversationLimits(address),
};

/**
 * How much longer than the platform's each window is taken, in real time: a
 * call reserved at t reaches the platform a little later, and a little more
 * or less so from call to call; a window stretched by more than that spread
 * can never look overfull where the platform counts. It is not divided by the
 * time scale, because network delays do not shrink when the emulators speed up.
 */
export const JITTER_MARGIN_MS = 50;

/** Divides every window by `timeScale` (LABOPS_TIME_SCALE, for emulators faster than the platforms), then adds the margin. */
export function scaleRequests(
  requests: RateRequest[],
  timeScale: number,
  marginMs = JITTER_MARGIN_MS,
): RateRequest[] {
  return requests.map((r) => ({
    key: r.key,
    windows: r.windows.map((w) => ({ windowMs: w.windowMs / timeScale + marginMs, max: w.max })),
  }));
}
