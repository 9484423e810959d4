import { RedisAuditLog } from "../adapters/redis/audit.ts";
import { RedisLabCaps } from "../adapters/redis/caps.ts";
import { RedisConfirmationStore } from "../adapters/redis/confirmations.ts";
import { RedisConversationReferenceStore } from "../adapters/redis/conversations.ts";
import { RedisDeliveryLog } from "../adapters/redis/deliveries.ts";
import { RedisLabRegistry, ScriptedLabUpdates } from "../adapters/redis/registry.ts";
import { createSlackApp, SLACK_EVENTS_PATH, type SlackApp } from "../adapters/slack/app.ts";
import { createRedis } from "../jobs/connection.ts";
import { BullCommandQueue } from "../jobs/queue.ts";
import type { IntakeDeps } from "../src/commands/intake.ts";
import { formLinkKey } from "../src/crypto.ts";
import { createChat } from "./chat.ts";
import type { RoleContext, RoleStop, WebParts } from "./roles.ts";

/** The web role: Slack and Teams HTTP (or Socket Mode), intake, and the queue's producer side. */
export async function startWebRole(ctx: RoleContext, web: WebParts): Promise<RoleStop> {
  const { config, clock, logger, metrics, options, tracing } = ctx;
  const producer = createRedis(config.redisUrl, "producer");
  producer.on("error", () => undefined); // reported through /readyz, not as a crash
  // A queued command's audit entry goes out in the same write as its job (jobs/queue.ts).
  const audit = new RedisAuditLog(producer, config.redisPrefix);
  const queue = new BullCommandQueue({
    connection: producer,
    prefix: config.redisPrefix,
    secretKey: config.secretKey,
    ...(options.queueName ? { queueName: options.queueName } : {}),
    tracing,
    audit,
  });
  const { router: chat, teams: teamsChat } = await createChat(
    config,
    logger,
    producer,
    metrics,
    ctx.chatShared,
  );
  const labs = new RedisLabRegistry(producer, config.redisPrefix);
  const intakeDeps: Omit<IntakeDeps, "logger"> = {
    queue,
    registry: labs,
    members: new ScriptedLabUpdates(producer, config.redisPrefix),
    // On intake's clock (the process's), so expiry means the same to both.
    confirmations: new RedisConfirmationStore(producer, config.redisPrefix, clock),
    audit,
    deliveries: new RedisDeliveryLog(producer, config.redisPrefix),
    admins: config.admins,
    clock,
    metrics,
    tracing,
    caps: {
      store: new RedisLabCaps(producer, config.redisPrefix),
      settings: config.caps,
      timeScale: config.timeScale,
    },
  };
  const formKey = formLinkKey(config.secretKey);
  let slack: SlackApp | undefined;
  if (config.slack) {
    slack = createSlackApp({
      config: config.slack,
      intake: intakeDeps,
      chat,
      logger,
      parseOptions: { maxTtlMs: config.maxTtlMs },
      clock,
      formKey,
    });
    if (slack.requestListener) {
      web.rawRoutes.push({ method: "POST", path: SLACK_EVENTS_PATH, listener: slack.requestListener });
    }
  }
  const shared = ctx.chatShared.teams;
  const teams =
    teamsChat && shared
      ? shared.modules.createTeamsApp({
          adapter: shared.adapter,
          intake: intakeDeps,
          references: new RedisConversationReferenceStore(producer, config.redisPrefix),
          pace: (requests, call) => teamsChat.paced(requests, call, "turnReply"),
          logger,
          parseOptions: { maxTtlMs: config.maxTtlMs },
          clock,
          formKey,
        })
      : undefined;
  if (teams) web.mounts.push((app) => teams.mount(app));
  const stop: RoleStop = async () => {
    await slack?.stop().catch(() => undefined);
    await teams?.settle();
    await chat.flush();
    await queue.close();
    producer.disconnect();
  };
  try {
    // Socket Mode connects out to Slack; HTTP mode has nothing to start.
    await slack?.start();
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  if (slack && config.slack?.appToken) logger.info("slack.socket_mode_connected");
  return stop;
}
