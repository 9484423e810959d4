import { createTracing } from "../../adapters/otel/setup.ts";
import { startWorld, type World } from "../../test/helpers/chat-world.ts";
import { type AckAsk, serveAsks } from "./ack-child.ts";
import { warmUp } from "./intake-warm-up.ts";
import type { PreparedPost } from "./load.ts";
import { signedSlashCommand } from "./slack-command.ts";

/**
 * One web role of the bot (Bolt receiver, intake, BullMQ enqueue in Redis) in
 * a process of its own (lib/ack-child.ts), for slack-ack.ts and
 * slack-ack-tracing.ts: tracing on (the SDK as OTEL_* sets it, exporting to
 * BENCH_OTLP_URL) when that is set, else off. Before it serves, it runs
 * BENCH_INTAKE_WARMUP (20 000) commands through intake (lib/intake-warm-up.ts). Started with
 * an IPC channel (and --expose-gc); answers the parent's messages.
 */

const otlpUrl = process.env.BENCH_OTLP_URL;
const warmCount = Number(process.env.BENCH_INTAKE_WARMUP ?? 20_000);

/** `count` signed `/lab create` commands, each with a lab name and trigger id of its own, in one channel. */
function signedCommands(world: World, tag: string, round: number, count: number): PreparedPost[] {
  const channel = `C0T${tag.toUpperCase()}R${round}`;
  return Array.from({ length: count }, (_, i) =>
    signedSlashCommand(world, {
      text: `create ${tag}-${round}-${i}`,
      channel,
      user: `U0T${String(i).padStart(4, "0")}`,
      i,
    }),
  );
}

await warmUp(warmCount, otlpUrl);
// What the warm-up left (more with tracing on) is collected now, not in the rounds of one bot only.
(globalThis as { gc?: () => void }).gc?.();
const made = otlpUrl
  ? createTracing(
      { OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl, OTEL_SERVICE_NAME: "labops-bench" },
      { resource: { "labops.role": "web" } },
    )
  : undefined;
if (made && !made.config.enabled) throw new Error(`tracing did not turn on: ${made.config.reason}`);
const tracing = made?.tracing;
const world = await startWorld({
  teams: false,
  env: { LABOPS_ROLE: "web", LABOPS_LOG_LEVEL: "warn" },
  ...(tracing ? { tracing } : {}),
});

async function answer(ask: AckAsk): Promise<unknown> {
  switch (ask.kind) {
    case "prepare":
      return signedCommands(world, String(ask.tag), Number(ask.round), Number(ask.count));
    case "slack_calls": {
      // The Web API calls the bot made meanwhile, by method and answer (none are expected at the ack).
      const calls: Record<string, number> = {};
      for (const c of world.slack.calls) {
        const key = `${c.method} ${c.status}${c.error ? ` ${c.error}` : ""}`;
        calls[key] = (calls[key] ?? 0) + 1;
      }
      return calls;
    }
    case "jobs":
      return world.jobCount();
    case "job_trace": {
      // What a queued job carries for the worker: a traceparent with tracing on, nothing with it off.
      const [job] = await world.queue.getJobs(["waiting"], 0, 0);
      return job?.data.trace?.traceparent ?? null;
    }
    case "close":
      await tracing?.shutdown(); // exports what the batch still holds
      await world.close();
      return null;
    default:
      throw new Error(`the bot answers no "${ask.kind}"`);
  }
}

if (world.bot.port === undefined) throw new Error("the bot has no port");
serveAsks(world.bot.port, answer);
