import { Redis, type RedisOptions } from "ioredis";
import { type Clock, systemClock } from "../src/clock.ts";

/**
 * Redis connections with BullMQ's production settings:
 * - workers (blocking commands) need `maxRetriesPerRequest: null`, so a Redis
 *   outage makes them wait and reconnect rather than throw;
 * - producers (the web role) fail fast with `enableOfflineQueue: false`, so a
 *   chat request gets a clear "try again" instead of hanging past Slack's 3 s,
 *   and pipeline automatically: the commands issued in one turn of the event
 *   loop (every concurrent command's claim, registry read, enqueue, audit) go
 *   out in one socket write and come back in one read, instead of a write
 *   each (a loopback write costs about as much CPU as the rest of a Slack ack;
 *   see docs/PERFORMANCE.md). Each command keeps its own reply and error and
 *   they go out in the order they were issued (a MULTI is not pipelined: it
 *   goes at once, so the web role's stores use scripts for what must be atomic);
 * - clients (what jobs, the chat limiter and the watcher use in the worker and
 *   watcher roles) wait for a reconnect instead of failing after two tries, up
 *   to their 5 s command timeout (the producer's is 2 s; both patientTimeouts): a Redis restart does not fail the job at
 *   hand, and longer outages fail it for BullMQ to retry. (Not longer: a chat
 *   limiter slot answered seconds late and then used would bunch calls into a
 *   429.)
 * - reconnect with a capped back-off (at most 2 s, so a restarted Redis is
 *   found again quickly); TLS follows the rediss:// scheme.
 */
export type ConnectionKind = "producer" | "worker" | "client";

// ioredis 6 declares replyMapping as `X | undefined` in RedisOptions but `X` in its constructor,
// which exactOptionalPropertyTypes rejects; we never set it.
export type LabopsRedisOptions = Omit<RedisOptions, "replyMapping">;

export function redisOptions(url: string, kind: ConnectionKind): LabopsRedisOptions {
  const parsed = new URL(url);
  const base: LabopsRedisOptions = {
    connectionName: `labops-${kind}`,
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(Math.max(times * 250, 250), 2_000),
    ...(parsed.protocol === "rediss:" ? { tls: { servername: parsed.hostname } } : {}),
  };
  switch (kind) {
    case "worker":
      return { ...base, maxRetriesPerRequest: null, enableReadyCheck: true };
    case "producer":
      return {
        ...base,
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        enableAutoPipelining: true,
      };
    case "client":
      return { ...base, maxRetriesPerRequest: null };
  }
}

/** Each kind's command timeout (patientTimeouts); workers block, and have none. */
export const COMMAND_TIMEOUT_MS: Readonly<Record<ConnectionKind, number | undefined>> = {
  producer: 2_000,
  client: 5_000,
  worker: undefined,
};

/** Marks a command whose timeout runs: ioredis sends a command again after a reconnect. */
const TIMED = Symbol("labops.commandTimeout");
type TimedCommand = Parameters<Redis["sendCommand"]>[0] & { [TIMED]?: true };

/**
 * Command timeouts that do not mistake a stalled event loop for a slow Redis.
 * ioredis's own (`commandTimeout`) rejects a command the moment its timer
 * runs; after the process's event loop was held up longer than the timeout
 * (a long GC, a busy machine), timers run before the socket is read, so every
 * command in flight timed out though Redis had answered it long before (seen
 * in full test runs as "try again" answers to commands that were fine). Here
 * a timer that fires first lets the loop read what has arrived (setImmediate
 * runs after the poll phase that reads sockets) and rejects, as ioredis does,
 * only a command still unanswered then, `timeoutMs` after it was first sent
 * (through ioredis's public `sendCommand`).
 *
 * One timer per connection, not one per command: a connection's commands are
 * answered in the order they were sent, so those in flight are a queue, oldest
 * first, and the timer waits for the oldest. Settled commands leave the queue
 * from its head as new ones are sent (they are not kept for the timer). A
 * timer, a closure and a promise reaction per command cost about 1.1 µs more
 * per command than this, five times per acknowledgement
 * (docs/performance/slack.ack.md). On the wall clock (`clock`), like every
 * timeout of a call to something outside.
 */
export function patientTimeouts(
  redis: Redis,
  timeoutMs: number,
  clock: Pick<Clock, "timeout" | "now"> = systemClock(),
): Redis {
  const send = redis.sendCommand.bind(redis);
  let commands: (TimedCommand | undefined)[] = [];
  let sentAt: number[] = [];
  let head = 0;
  let armed = false;

  const dropSettled = () => {
    while (head < commands.length && commands[head]?.isSettled) commands[head++] = undefined;
    if (head === commands.length) {
      commands = [];
      sentAt = [];
      head = 0;
    } else if (head >= 1_024 && head * 2 >= commands.length) {
      commands = commands.slice(head);
      sentAt = sentAt.slice(head);
      head = 0;
    }
  };
  const arm = (ms: number) => {
    armed = true;
    // After the timer, the poll phase reads what has arrived before the check (setImmediate).
    // Unref'd: the connection's socket keeps the process alive while a command is in flight.
    clock.timeout(() => setImmediate(check), Math.max(1, ms), { unref: true });
  };
  const check = () => {
    armed = false;
    const now = clock.now();
    for (dropSettled(); head < commands.length; dropSettled()) {
      const oldest = commands[head] as TimedCommand;
      const waited = now - (sentAt[head] as number);
      if (waited < timeoutMs) {
        arm(timeoutMs - waited);
        return;
      }
      commands[head++] = undefined;
      oldest.reject(new Error("Command timed out"));
    }
  };

  redis.sendCommand = (command: TimedCommand, stream) => {
    if (command[TIMED] === undefined) {
      command[TIMED] = true;
      dropSettled();
      commands.push(command);
      sentAt.push(clock.now());
      if (!armed) arm(timeoutMs);
    }
    return send(command, stream);
  };
  return redis;
}

export function createRedis(url: string, kind: ConnectionKind): Redis {
  const redis = new Redis(url, redisOptions(url, kind));
  const timeoutMs = COMMAND_TIMEOUT_MS[kind];
  return timeoutMs === undefined ? redis : patientTimeouts(redis, timeoutMs);
}

/** Waits until a connection created with `enableOfflineQueue: false` is ready, or throws. */
export async function whenReady(redis: Redis, clock: Clock, timeoutMs = 5_000): Promise<void> {
  if (redis.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const cancel = clock.timeout(() => {
      cleanup();
      reject(new Error(`Redis did not become ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      cancel();
      redis.off("ready", onReady);
    };
    redis.on("ready", onReady);
  });
}
