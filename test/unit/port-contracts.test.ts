import { CONFIRMATION_GRACE_MS } from "../../src/ports/confirmations.ts";
import { auditLogContract } from "../contract/audit.contract.ts";
import { labCapsContract } from "../contract/caps.contract.ts";
import { confirmationStoreContract } from "../contract/confirmations.contract.ts";
import { deliveryLogContract } from "../contract/deliveries.contract.ts";
import { leasesContract } from "../contract/leases.contract.ts";
import { commandQueueContract } from "../contract/queue.contract.ts";
import { labRegistryContract } from "../contract/registry.contract.ts";
import { rotationThreadsContract } from "../contract/rotation-threads.contract.ts";
import { watchStateStoreContract } from "../contract/watch-state.contract.ts";
import { MemoryAuditLog } from "../fakes/audit.ts";
import { MemoryLabCaps } from "../fakes/caps.ts";
import { ManualClock } from "../fakes/clock.ts";
import { MemoryConfirmationStore } from "../fakes/confirmations.ts";
import { MemoryDeliveryLog } from "../fakes/deliveries.ts";
import { MemoryLeases } from "../fakes/leases.ts";
import { MemoryQueue } from "../fakes/queue.ts";
import { MemoryLabRegistry } from "../fakes/registry.ts";
import { MemoryRotationThreads, MemoryWatchStateStore } from "../fakes/watcher.ts";

/** The in-memory fakes (test/fakes) held to the contracts the Redis implementations keep. */

leasesContract("MemoryLeases", () => {
  const clock = new ManualClock();
  return {
    leases: new MemoryLeases(clock),
    other: new MemoryLeases(clock),
    elapse: (ms) => clock.advance(ms),
  };
});

labRegistryContract("MemoryLabRegistry", () => new MemoryLabRegistry());

confirmationStoreContract("MemoryConfirmationStore", () => {
  const clock = new ManualClock();
  const store = new MemoryConfirmationStore(clock);
  return {
    store,
    peer: store,
    now: () => clock.now(),
    elapse: (ms) => clock.advance(ms),
    graceMs: CONFIRMATION_GRACE_MS,
  };
});

deliveryLogContract("MemoryDeliveryLog", () => {
  const clock = new ManualClock();
  const log = new MemoryDeliveryLog(clock);
  return { log, peer: log, elapse: (ms) => clock.advance(ms) };
});

auditLogContract("MemoryAuditLog", () => new MemoryAuditLog());

commandQueueContract("MemoryQueue", () => {
  const audit = new MemoryAuditLog();
  const queue = new MemoryQueue(audit);
  return { queue, jobs: async () => [...queue.jobs], audit };
});

watchStateStoreContract("MemoryWatchStateStore", () => {
  const clock = new ManualClock();
  const leases = new MemoryLeases(clock);
  return { store: new MemoryWatchStateStore(leases), leases, elapse: (ms) => clock.advance(ms) };
});

rotationThreadsContract("MemoryRotationThreads", () => {
  const threads = new MemoryRotationThreads();
  return { threads, peer: threads };
});

labCapsContract("MemoryLabCaps", () => {
  const clock = new ManualClock();
  const registry = new MemoryLabRegistry();
  const caps = new MemoryLabCaps(registry);
  return {
    caps,
    peer: caps,
    registry,
    now: () => clock.now(),
    elapse: async (ms) => {
      await clock.advance(ms);
    },
  };
});
