import type { ClusterApi } from "../api.ts";
import { ApiError } from "../errors.ts";
import { apiVersionOf, RESOURCES } from "../resources.ts";
import type { CoreEvent, KubeObject } from "../types.ts";
import { rfc3339 } from "../util.ts";

/**
 * client-go's event recorder as the controllers use it: one core/v1 Event per
 * distinct (source, object, type, reason, message), and a repeat within ten
 * minutes bumps `count` and `lastTimestamp` instead of adding another, which
 * is how "(x12 over 8m)" comes about and what keeps a rotation poll from
 * growing the store. Like client-go's EventAggregator, more than ten
 * different messages for the same object and reason within ten minutes
 * fold into one "(combined from similar events): …" event (FailedMount
 * messages carry Entra's trace ids, so they all differ). Events expire after
 * an hour like the API server's TTL.
 */

export interface EventSource {
  component: string;
  host?: string;
}

const AGGREGATION_WINDOW_MS = 10 * 60_000;
const MAX_SIMILAR = 10;
const EVENT_TTL_MS = 60 * 60_000;

interface Seen {
  name: string;
  namespace: string;
  last: number;
}

export class EventRecorder {
  private readonly api: ClusterApi;
  private readonly seen = new Map<string, Seen>();
  /** Distinct messages per (source, object, type, reason) within the window. */
  private readonly similar = new Map<string, { messages: Set<string>; start: number }>();
  private cancelSweep: (() => void) | undefined;
  private stopped = false;
  /** Counts by reason, for the inventory. */
  readonly reasons: Record<string, number> = {};

  constructor(api: ClusterApi) {
    this.api = api;
    this.scheduleSweep();
  }

  private scheduleSweep(): void {
    if (this.stopped) return;
    this.cancelSweep = this.api.clock.schedule(10 * 60_000, () => {
      this.sweep();
      this.scheduleSweep();
    });
  }

  /** Deletes events past their TTL and forgets stale aggregation keys. */
  sweep(): void {
    const now = this.api.clock.now();
    const rt = this.api.type("", "events");
    for (const e of this.api.store.list(rt.storageKey) as CoreEvent[]) {
      const last = Date.parse(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? "");
      if (Number.isFinite(last) && now - last > EVENT_TTL_MS) {
        try {
          this.api.delete(rt, e.metadata.namespace, e.metadata.name ?? "");
        } catch {
          // Already gone: nothing to expire.
        }
      }
    }
    for (const [k, s] of this.seen) if (now - s.last > AGGREGATION_WINDOW_MS) this.seen.delete(k);
    for (const [k, s] of this.similar) if (now - s.start > AGGREGATION_WINDOW_MS) this.similar.delete(k);
  }

  record(
    involved: KubeObject,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
    source: EventSource,
    fieldPath?: string,
  ): void {
    if (this.stopped) return;
    this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
    const rt = this.api.type("", "events");
    const namespace = involved.metadata.namespace ?? "default";
    const kind = involved.kind ?? "";
    const involvedName = involved.metadata.name ?? "";
    const now = this.api.clock.now();
    const aggregateKey = [
      source.component,
      source.host ?? "",
      namespace,
      kind,
      involvedName,
      involved.metadata.uid ?? "",
      fieldPath ?? "",
      type,
      reason,
    ].join("\u0000");
    let similar = this.similar.get(aggregateKey);
    if (!similar || now - similar.start > AGGREGATION_WINDOW_MS) {
      similar = { messages: new Set(), start: now };
      this.similar.set(aggregateKey, similar);
    }
    if (similar.messages.size < MAX_SIMILAR) similar.messages.add(message);
    const combined = similar.messages.size >= MAX_SIMILAR;
    const key = combined ? aggregateKey : `${aggregateKey}\u0000${message}`;
    const text = combined ? `(combined from similar events): ${message}` : message;
    const manager = source.component;
    const existing = this.seen.get(key);
    if (existing && now - existing.last <= AGGREGATION_WINDOW_MS) {
      existing.last = now;
      const updated = this.api.mutate(
        rt,
        existing.namespace,
        existing.name,
        (o) => {
          const e = o as CoreEvent;
          e.count = (e.count ?? 1) + 1;
          e.lastTimestamp = rfc3339(now);
          e.message = text;
          return true;
        },
        { fieldManager: manager },
      );
      if (updated) return;
    }
    const resource = RESOURCES.find((r) => r.kind === kind && r.view === undefined);
    const apiVersion = involved.apiVersion ?? (resource ? apiVersionOf(resource) : "v1");
    const event: CoreEvent = {
      apiVersion: "v1",
      kind: "Event",
      metadata: {
        name: `${involvedName}.${(BigInt(now) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000))).toString(16)}`,
        namespace,
      },
      involvedObject: {
        kind,
        namespace: involved.metadata.namespace ?? "",
        name: involvedName,
        uid: involved.metadata.uid ?? "",
        apiVersion,
        resourceVersion: involved.metadata.resourceVersion ?? "",
      },
      reason,
      message: text,
      source: source.host
        ? { component: source.component, host: source.host }
        : { component: source.component },
      firstTimestamp: rfc3339(now),
      lastTimestamp: rfc3339(now),
      count: 1,
      type,
      eventTime: null,
      reportingComponent: source.component,
      reportingInstance: source.host ?? "",
    };
    if (fieldPath) event.involvedObject.fieldPath = fieldPath;
    if (!involved.metadata.namespace) delete event.involvedObject.namespace;
    try {
      const created = this.api.create(rt, namespace, event, { fieldManager: manager });
      this.seen.set(key, { name: created.metadata.name ?? "", namespace, last: now });
    } catch (e) {
      // A namespace being torn down refuses new content; the event is dropped as client-go would.
      if (!(e instanceof ApiError)) throw e;
    }
  }

  stop(): void {
    this.stopped = true;
    this.cancelSweep?.();
    this.seen.clear();
  }
}
