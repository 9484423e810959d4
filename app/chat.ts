import type { Redis } from "ioredis";
import { RedisConversationReferenceStore } from "../adapters/redis/conversations.ts";
import { RedisRateLimiter } from "../adapters/redis/rate-limiter.ts";
import { SlackChat } from "../adapters/slack/chat.ts";
import { slackRatePolicy, teamsRatePolicy } from "../src/chat/limits.ts";
import { PacedChat } from "../src/chat/paced.ts";
import { ChatRouter } from "../src/chat/router.ts";
import { type Clock, systemClock } from "../src/clock.ts";
import type { Config } from "../src/config.ts";
import { errorCode } from "../src/errors.ts";
import type { Logger } from "../src/log.ts";
import type { ChatPort, Platform } from "../src/ports/chat.ts";
import type { Metrics } from "../src/ports/metrics.ts";
import { NO_TRACING, type Tracing } from "../src/ports/tracing.ts";

/** botbuilder takes half a second to load: only processes that talk to Teams load it. */
export async function loadTeams() {
  const [adapter, app, chat] = await Promise.all([
    import("../adapters/teams/adapter.ts"),
    import("../adapters/teams/app.ts"),
    import("../adapters/teams/chat.ts"),
  ]);
  return { ...adapter, ...app, ...chat };
}

export type TeamsModules = Awaited<ReturnType<typeof loadTeams>>;
export type TeamsAdapter = InstanceType<TeamsModules["LabopsCloudAdapter"]>;

/**
 * What a process shares for chat, made once: the process's clock (which paces
 * every chat call), the Teams CloudAdapter (one per process, used by the web
 * role's turns and by every role's proactive posts) and the loaded Teams modules.
 */
export interface ChatShared {
  clock: Clock;
  /** The chat calls' spans (PacedChat), inside a command's or a rotation's trace. */
  tracing: Tracing;
  teams?: { modules: TeamsModules; adapter: TeamsAdapter };
}

/** `clock` is the process's (RoleContext.clock); the wall clock at LABOPS_TIME_SCALE when absent. */
export async function createChatShared(
  config: Config,
  logger: Logger,
  clock?: Clock,
  tracing: Tracing = NO_TRACING,
): Promise<ChatShared> {
  const shared = { clock: clock ?? systemClock(config.timeScale), tracing };
  if (!config.teams) return shared;
  const modules = await loadTeams();
  const adapter = new modules.LabopsCloudAdapter(
    modules.teamsAuthentication(config.teams, config.caPem, shared.clock, (error) =>
      logger.warn({ code: errorCode(error) }, "teams.token_failed"),
    ),
    logger,
  );
  return { ...shared, teams: { modules, adapter } };
}

/**
 * The chat port of one role: each platform's implementation behind PacedChat,
 * whose limiter lives in Redis, so the platforms' limits hold across every web
 * and worker process. Any process can reach any conversation: Slack needs only
 * the bot token; Teams reads the conversation references the web role stored
 * in Redis.
 */
export async function createChat(
  config: Config,
  logger: Logger,
  redis: Redis,
  metrics?: Metrics,
  /** The process's shared chat pieces; made here when absent (tests and tools with one role). */
  given?: ChatShared,
): Promise<{ router: ChatRouter; teams: PacedChat | undefined }> {
  const shared = given ?? (await createChatShared(config, logger));
  const { clock, tracing } = shared;
  const limiter = new RedisRateLimiter(redis, config.redisPrefix);
  const byPlatform: Partial<Record<Platform, ChatPort>> = {};
  let teams: PacedChat | undefined;
  if (config.slack) {
    const slack = new SlackChat({
      botToken: config.slack.botToken,
      apiUrl: config.slack.apiUrl,
      logger,
      clock,
    });
    byPlatform.slack = new PacedChat(slack, {
      limiter,
      policy: slackRatePolicy,
      logger,
      clock,
      marginMs: config.chatMarginMs,
      tracing,
      ...(metrics ? { metrics: { metrics, service: "slack" } } : {}),
    });
  }
  if (config.teams && shared.teams) {
    const inner = new shared.teams.modules.TeamsChat({
      adapter: shared.teams.adapter,
      appId: config.teams.appId,
      references: new RedisConversationReferenceStore(redis, config.redisPrefix),
      clock,
    });
    teams = new PacedChat(inner, {
      limiter,
      policy: teamsRatePolicy,
      logger,
      clock,
      marginMs: config.chatMarginMs,
      tracing,
      ...(metrics ? { metrics: { metrics, service: "teams" } } : {}),
    });
    byPlatform.teams = teams;
  }
  return { router: new ChatRouter(byPlatform), teams };
}
