import { Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { verbatim } from "../src/chat/markup.ts";
import type { Clock } from "../src/clock.ts";
import { expiryText } from "../src/labs/world-time.ts";
import type { Logger } from "../src/log.ts";
import type { ChatPort } from "../src/ports/chat.ts";
import type { CommandQueue } from "../src/ports/queue.ts";
import type { HostRegistry, LabRecord, LabRegistry } from "../src/ports/registry.ts";
import type { LabScheduler } from "../src/ports/scheduler.ts";

export const SCHEDULES_QUEUE = "schedules";

interface ScheduleData {
  lab: string;
  kind: "remind" | "expire";
  expiresAt: number;
}

/** A reminder this long before expiry (or at half the lifetime of a short lab). */
const REMIND_BEFORE_MS = 60 * 60_000;

/**
 * Expiry on BullMQ delayed jobs. Job ids carry the expiry time, so an extend
 * simply schedules new ones; a stale job finds the lab's expiry moved and does
 * nothing. The expiry time is already scaled (it is when the lab really goes);
 * the reminder lead, an hour, is scaled here by the clock's time scale.
 */
export class BullLabScheduler implements LabScheduler {
  readonly queue: Queue<ScheduleData>;
  readonly #clock: Clock;

  constructor(options: { connection: Redis; prefix: string; clock: Clock; queueName?: string }) {
    this.queue = new Queue<ScheduleData>(options.queueName ?? SCHEDULES_QUEUE, {
      connection: options.connection,
      prefix: options.prefix,
      defaultJobOptions: {
        removeOnComplete: { age: 24 * 3600 },
        removeOnFail: { age: 7 * 24 * 3600 },
        attempts: 3,
      },
    });
    this.queue.on("error", () => undefined);
    this.#clock = options.clock;
  }

  async scheduleExpiry(lab: string, expiresAt: number): Promise<void> {
    await this.cancel(lab);
    const left = Math.max(0, expiresAt - this.#clock.now());
    const remindIn = Math.max(0, left - Math.min(this.#clock.scaled(REMIND_BEFORE_MS), left / 2));
    await this.queue.add(
      "remind",
      { lab, kind: "remind", expiresAt },
      { jobId: `remind-${lab}-${expiresAt}`, delay: Math.round(remindIn) },
    );
    await this.queue.add(
      "expire",
      { lab, kind: "expire", expiresAt },
      { jobId: `expire-${lab}-${expiresAt}`, delay: Math.round(left) },
    );
  }

  async cancel(lab: string): Promise<void> {
    const delayed = await this.queue.getDelayed();
    await Promise.all(
      delayed.filter((j) => j.data.lab === lab).map((j) => j.remove().catch(() => undefined)),
    );
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

export interface ScheduleWorkerOptions {
  connection: Redis;
  prefix: string;
  registry: LabRegistry;
  commands: CommandQueue;
  chat: ChatPort;
  logger: Logger;
  /** When an expiry was received (its envelope's receivedAt). */
  clock: Clock;
  queueName?: string;
  /** "$0.52": what a lab has cost so far, for the reminder (none: not said). */
  costSoFar?: (record: LabRecord) => string;
  /** The hosts, whose expiries are scheduled under `host.NAME` (none: host expiries are dropped). */
  hosts?: Pick<HostRegistry, "get">;
}

export function startScheduleWorker(options: ScheduleWorkerOptions): Worker<ScheduleData> {
  const worker = new Worker<ScheduleData>(
    options.queueName ?? SCHEDULES_QUEUE,
    async (job) => {
      const { lab, kind, expiresAt } = job.data;
      if (lab.startsWith("host.")) return expireHost(options, lab.slice("host.".length), kind, expiresAt);
      const record = await options.registry.get(lab);
      // Extended, destroyed or replaced since this was scheduled: nothing to do.
      if (!record || record.expiresAt !== expiresAt || record.state === "destroying") return;
      const log = options.logger.child({ lab, schedule: kind });
      if (kind === "remind") {
        if (record.thread) {
          await options.chat.reply(record.thread, {
            title: `Lab ${lab} expires ${expiryText(expiresAt, options.clock.now(), options.clock.timeScale)}`,
            status: "warning",
            text: `It will be destroyed then.${options.costSoFar ? ` This lab has cost about ${options.costSoFar(record)} so far.` : ""} Extend it to keep it: \`lab extend ${verbatim(lab)} --by 4h\`.`,
            actions: [{ kind: "button", id: "lab.extend", label: "Extend 4h", value: lab, style: "primary" }],
          });
        }
        log.info("lab.reminded");
        return;
      }
      await options.commands.enqueue({
        deliveryId: `expire.${lab}.${expiresAt}`,
        correlationId: `c-expire-${lab}`,
        command: { kind: "lab.destroy", lab, confirmed: true },
        origin: {
          address: record.address,
          user: { platform: record.address.platform, id: "labops", name: "labops (expiry)" },
        },
        receivedAt: options.clock.now(),
      });
      log.info("lab.expired");
    },
    { connection: options.connection, prefix: options.prefix, concurrency: 5 },
  );
  worker.on("error", (error) => options.logger.warn({ err: error.message }, "schedule_worker.error"));
  return worker;
}

/**
 * A host at its expiry is destroyed with every lab on it (`host destroy
 * --force`, confirmed by the schedule); its reminder goes to its thread.
 */
async function expireHost(
  options: ScheduleWorkerOptions,
  host: string,
  kind: ScheduleData["kind"],
  expiresAt: number,
): Promise<void> {
  const record = await options.hosts?.get(host);
  if (!record || record.expiresAt !== expiresAt || record.state === "destroying") return;
  if (kind === "remind") {
    if (record.thread) {
      await options.chat.reply(record.thread, {
        title: `Host ${host} expires ${expiryText(expiresAt, options.clock.now(), options.clock.timeScale)}`,
        status: "warning",
        text: "It will be destroyed then, with every lab on it.",
      });
    }
    return;
  }
  await options.commands.enqueue({
    deliveryId: `expire.host.${host}.${expiresAt}`,
    correlationId: `c-expire-host-${host}`,
    command: { kind: "host.destroy", host, force: true, confirmed: true },
    origin: {
      address: record.address,
      user: { platform: record.address.platform, id: "labops", name: "labops (expiry)" },
    },
    receivedAt: options.clock.now(),
  });
  options.logger.info({ host }, "host.expired");
}
