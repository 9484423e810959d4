import { createTracing } from "../../adapters/otel/setup.ts";
import { tracedIntake } from "../../src/commands/intake-trace.ts";
import { parseCommandText } from "../../src/commands/parse.ts";
import { createLogger } from "../../src/log.ts";
import type { CommandQueue } from "../../src/ports/queue.ts";
import { carrierOf, NO_TRACING, type Tracing } from "../../src/ports/tracing.ts";
import { MemoryAuditLog } from "../../test/fakes/audit.ts";
import { MemoryConfirmationStore } from "../../test/fakes/confirmations.ts";
import { MemoryDeliveryLog } from "../../test/fakes/deliveries.ts";
import { MemoryLabRegistry } from "../../test/fakes/registry.ts";

/**
 * Intake (its span and the job's carrier, with tracing on) in a loop on
 * in-memory fakes, until V8 has compiled the code the acknowledgement runs:
 * the run's few thousand commands alone would measure it still interpreted.
 * Both bots run it, so that intake is as warm in one as in the other.
 */
export async function warmUp(
  count: number,
  otlpUrl: string | undefined,
  platform: "slack" | "teams" = "slack",
): Promise<void> {
  const warm: Tracing = otlpUrl
    ? createTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl, OTEL_SERVICE_NAME: "warm-up" }).tracing
    : NO_TRACING;
  const clock = { now: () => Date.now() };
  // The queue's tracing lines (jobs/queue.ts): the active span's context, for the job's data.
  const queue: CommandQueue = {
    enqueue: async (envelope) => ({ jobId: `d-${envelope.deliveryId}.${carrierOf(warm)?.traceparent}` }),
  };
  const deps = {
    queue,
    registry: new MemoryLabRegistry(),
    confirmations: new MemoryConfirmationStore(clock),
    audit: new MemoryAuditLog(),
    deliveries: new MemoryDeliveryLog(clock),
    admins: [],
    logger: createLogger({ level: "warn", tracing: warm }),
    clock,
    tracing: warm,
  };
  for (let i = 0; i < count; i += 1) {
    const origin = {
      address: { platform, tenant: "T0WARM", channel: "C0WARM" },
      user: { platform, id: `U${i}` },
    };
    const parsed = parseCommandText(`lab create warm-${i}`);
    await tracedIntake(
      { deliveryId: `w${i}`, correlationId: `c-${i}`, origin, receivedAt: 0, parsed },
      deps,
      "command",
    );
  }
  await warm.shutdown();
}
