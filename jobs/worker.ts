import { type Job, WaitingError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Clock } from "../src/clock.ts";
import { auditEntry, commandFacts } from "../src/commands/audit-entry.ts";
import { describeCommand } from "../src/commands/describe.ts";
import { fromWire, type WireEnvelope, withoutSealedValue } from "../src/commands/envelope.ts";
import type { CommandKind } from "../src/commands/types.ts";
import { CancelledError, errorCode } from "../src/errors.ts";
import { type Logger, withCorrelation } from "../src/log.ts";
import type { AuditLog, AuditResult } from "../src/ports/audit.ts";
import type { ChatPort } from "../src/ports/chat.ts";
import { type Metrics, NO_METRICS } from "../src/ports/metrics.ts";
import { NO_TRACING, type Tracing } from "../src/ports/tracing.ts";
import type { CommandProcessor } from "./processors/context.ts";
import { COMMANDS_QUEUE, jobIdFor } from "./queue.ts";

export type { CommandProcessor, ProcessorContext, ProcessorOutcome } from "./processors/context.ts";

type JobData = WireEnvelope & { saved?: Record<string, unknown> };

export interface CommandWorkerOptions {
  connection: Redis;
  prefix: string;
  secretKey: Buffer;
  chat: ChatPort;
  logger: Logger;
  /** The audit entries' time and the shutdown grace. */
  clock: Clock;
  processors: Partial<Record<CommandKind, CommandProcessor>>;
  /** Used for kinds with no processor of their own. */
  fallback: CommandProcessor;
  concurrency?: number;
  metrics?: Metrics;
  /** Receives each job's outcome, under the command's correlation id. */
  audit?: AuditLog;
  queueName?: string;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** A consumer span per attempt, continuing the trace the envelope carries; NO_TRACING when absent. */
  tracing?: Tracing;
}

export interface CommandWorker {
  readonly worker: Worker<JobData>;
  /** Stops taking jobs and lets running ones finish; after `graceMs`, cancels them and waits again. */
  close(graceMs?: number): Promise<void>;
}

export function startCommandWorker(options: CommandWorkerOptions): CommandWorker {
  const { logger, clock } = options;
  const metrics = options.metrics ?? NO_METRICS;
  const draining = new AbortController();
  const tracing = options.tracing ?? NO_TRACING;
  const worker = new Worker<JobData>(
    options.queueName ?? COMMANDS_QUEUE,
    async (job, token, signal) =>
      traced(tracing, job, async () => {
        const envelope = fromWire(job.data, options.secretKey);
        // Every job of the command queue has an id: the one BullCommandQueue gave it.
        const jobId = job.id ?? jobIdFor(envelope.deliveryId);
        const log = withCorrelation(logger, envelope.correlationId, {
          jobId,
          kind: envelope.command.kind,
          attempt: job.attemptsMade + 1,
        });
        const saved: Record<string, unknown> = { ...(job.data.saved ?? {}) };
        const processor = options.processors[envelope.command.kind] ?? options.fallback;
        const recordOutcome = async (result: AuditResult, reason?: string) => {
          const entry = auditEntry(clock.now(), envelope, {
            ...commandFacts(envelope.command),
            result,
            ...(reason ? { reason } : {}),
            jobId,
          });
          await options.audit
            ?.record(entry)
            .catch((error: unknown) => log.warn({ code: errorCode(error) }, "audit.failed"));
        };
        log.info("job.started");
        const started = performance.now();
        try {
          const outcome = await processor({
            jobId,
            attempt: job.attemptsMade + 1,
            envelope,
            logger: log,
            signal: signal ?? new AbortController().signal,
            drain: draining.signal,
            chat: options.chat,
            saved,
            async checkpoint(patch, how) {
              Object.assign(saved, patch);
              const data = how?.dropValue ? withoutSealedValue(job.data) : job.data;
              await job.updateData({ ...data, saved: { ...saved } });
            },
          });
          const durationMs = performance.now() - started;
          metrics.jobFinished(envelope.command.kind, "completed", durationMs / 1000);
          await recordOutcome(outcome ? "failed" : "succeeded", outcome?.failed);
          log.info({ durationMs: Math.round(durationMs) }, "job.completed");
        } catch (error) {
          if (draining.signal.aborted && (error instanceof CancelledError || signal?.aborted) && token) {
            // Stopped by the shutdown at a step boundary (or cancelled after the grace): not a failure
            // and not an attempt. The job goes back to wait and resumes from its checkpoints.
            await job.moveToWait(token);
            log.info({ lastStep: saved.lastStep }, "job.handed_back");
            throw new WaitingError();
          }
          const durationMs = performance.now() - started;
          metrics.jobFinished(envelope.command.kind, "failed", durationMs / 1000);
          await recordOutcome("failed", errorCode(error));
          log.warn({ code: errorCode(error), durationMs: Math.round(durationMs) }, "job.failed");
          if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
            // The last attempt: BullMQ will not run it again, so the user hears it from here.
            await options.chat
              .notify(
                envelope.origin.address,
                envelope.origin.user,
                `\`${describeCommand(envelope.command)}\` could not finish (\`${errorCode(error)}\`, after ${job.attemptsMade + 1} attempt${job.attemptsMade === 0 ? "" : "s"}). Say it again to retry; a lab resumes where it stopped (ref ${envelope.correlationId}).`,
              )
              .catch((e: unknown) => log.warn({ code: errorCode(e) }, "job.failure_not_told"));
          }
          throw error;
        }
      }),
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? 10,
      ...(options.lockDurationMs !== undefined ? { lockDuration: options.lockDurationMs } : {}),
      ...(options.stalledIntervalMs !== undefined ? { stalledInterval: options.stalledIntervalMs } : {}),
      // Every step is idempotent and checkpointed, so a job whose worker died is worth resuming
      // more than BullMQ's default once: a lab create must survive a crash after each of its
      // twelve steps. A job that kills every worker still ends failed, after twenty takeovers.
      maxStalledCount: 20,
      autorun: true,
    },
  );
  worker.on("error", (error) => logger.error({ code: errorCode(error), err: error.message }, "worker.error"));

  return {
    worker,
    async close(graceMs = 25_000) {
      logger.info({ graceMs }, "worker.draining");
      draining.abort();
      const closing = worker.close();
      const grace = new AbortController();
      const timedOut = await Promise.race([
        closing.then(() => false),
        clock.sleep(graceMs, grace.signal).then(
          () => true,
          () => false,
        ),
      ]);
      grace.abort();
      if (timedOut) {
        logger.warn({ graceMs }, "worker.shutdown.cancelling");
        worker.cancelAllJobs("shutdown");
        await closing;
      }
    },
  };
}

/**
 * Runs one attempt of a job in its consumer span, `labops.job <kind>`, a
 * child of the span that queued it: every attempt, a resume after a crash or
 * a drain included, continues the same trace (a resumed attempt says so, and
 * its checkpointed steps show as skipped under its plan). Log lines written
 * inside carry the span's ids. With tracing off, the attempt as it is.
 */
async function traced<T>(tracing: Tracing, job: Job<JobData>, run: () => Promise<T>): Promise<T> {
  if (!tracing.enabled) return run();
  const saved = job.data.saved ?? {};
  const span = tracing.startSpan(`labops.job ${job.name}`, {
    kind: "consumer",
    parent: tracing.extract(job.data.trace) ?? null,
    attributes: {
      "labops.job.id": job.id,
      "labops.command.kind": job.name,
      "labops.correlation_id": job.data.correlationId,
      "labops.job.attempt": job.attemptsMade + 1,
      "labops.job.resumed": Object.keys(saved).length > 0,
      "messaging.system": "bullmq",
      "messaging.destination.name": job.queueName,
      "messaging.operation.type": "process",
    },
  });
  try {
    return await tracing.withActive(span.ref, run);
  } catch (error) {
    if (error instanceof WaitingError) span.addEvent("handed_back");
    else span.recordError(error);
    throw error;
  } finally {
    span.end();
  }
}
