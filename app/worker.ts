import { createRedis, whenReady } from "../jobs/connection.ts";
import type { CommandProcessor } from "../jobs/processors/context.ts";
import { placeholderProcessor } from "../jobs/processors/placeholder.ts";
import { BullCommandQueue } from "../jobs/queue.ts";
import { startScheduleWorker } from "../jobs/scheduler.ts";
import { startCommandWorker } from "../jobs/worker.ts";
import { costSoFar, formatMoney, labCostIn } from "../src/labs/cost.ts";
import { PRICES } from "../src/labs/prices.ts";
import { checkLabSettings } from "../src/labs/startup-check.ts";
import { createChat } from "./chat.ts";
import type { RoleContext, RoleStop } from "./roles.ts";
import { createWorkflows } from "./workflows.ts";

/** The worker role: BullMQ processors that run the lab steps, and the expiry schedule. */
export async function startWorkerRole(ctx: RoleContext): Promise<RoleStop> {
  const { config, clock, logger, metrics, options, tracing } = ctx;
  const connection = createRedis(config.redisUrl, "worker");
  connection.on("error", () => undefined); // BullMQ reconnects; its own "error" event is logged
  await whenReady(connection, clock, 10_000);
  const client = createRedis(config.redisUrl, "client");
  client.on("error", () => undefined);
  const { router: chat } = await createChat(config, logger, client, metrics, ctx.chatShared);
  const workflows = createWorkflows(config, client, { clock, metrics, logger, tracing });
  const processors = options.processors === "placeholder" ? {} : workflows.processors;
  // A placeholder create records no lab: like a create that gives up, it lets go of the name intake held.
  const caps = workflows.deps.caps;
  const fallback: CommandProcessor = async (context) => {
    await placeholderProcessor(context);
    const { command, correlationId } = context.envelope;
    if (command.kind === "lab.create") await caps?.release(command.lab, correlationId).catch(() => undefined);
  };
  // Bad lab settings show in the log at start-up, not at the first lab; the start does not wait for Azure.
  const startup = new AbortController();
  if (options.processors !== "placeholder" && config.azure) {
    void checkLabSettings(
      workflows.capacity,
      { location: config.azure.location, vmSize: config.lab.vmSize },
      logger,
      startup.signal,
    ).catch(() => undefined);
  }
  const worker = startCommandWorker({
    connection,
    prefix: config.redisPrefix,
    secretKey: config.secretKey,
    chat,
    logger,
    clock,
    processors,
    fallback,
    concurrency: config.workerConcurrency,
    metrics,
    ...(workflows.deps.audit ? { audit: workflows.deps.audit } : {}),
    lockDurationMs: config.jobLockMs,
    stalledIntervalMs: config.jobLockMs,
    ...(options.queueName ? { queueName: options.queueName } : {}),
    tracing,
  });
  // Expiry destroys go through the command queue like any other destroy.
  const expiryQueue = new BullCommandQueue({
    connection: client,
    prefix: config.redisPrefix,
    secretKey: config.secretKey,
    ...(options.queueName ? { queueName: options.queueName } : {}),
    tracing,
  });
  const scheduleConnection = createRedis(config.redisUrl, "worker");
  scheduleConnection.on("error", () => undefined);
  const schedules = startScheduleWorker({
    connection: scheduleConnection,
    prefix: config.redisPrefix,
    registry: workflows.deps.registry,
    hosts: workflows.deps.hosts,
    commands: expiryQueue,
    chat,
    logger,
    clock,
    costSoFar: (record) => {
      const settings = {
        ...workflows.deps.settings,
        timeScale: clock.timeScale,
        prices: workflows.deps.prices ?? PRICES,
      };
      const cost = labCostIn(settings, record.location);
      return formatMoney(costSoFar(cost, record.createdAt, clock.now(), clock.timeScale));
    },
  });
  // After the web server has stopped taking commands, running jobs drain.
  return async () => {
    startup.abort();
    await Promise.all([worker.close(), schedules.close()]);
    // Cards accepted from finished jobs still go out before the process leaves.
    await chat.flush();
    await workflows.close();
    await expiryQueue.close();
    connection.disconnect();
    scheduleConnection.disconnect();
    client.disconnect();
  };
}
