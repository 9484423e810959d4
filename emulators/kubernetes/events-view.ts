import type { CoreEvent, KubeObject } from "./types.ts";

/**
 * events.k8s.io/v1 Event is another shape of the same stored core/v1 Event,
 * converted field by field as the API server's conversion does.
 */

export function coreEventToEventsV1(stored: KubeObject): KubeObject {
  const e = stored as CoreEvent;
  const out: KubeObject = {
    kind: "Event",
    apiVersion: "events.k8s.io/v1",
    metadata: e.metadata,
    eventTime: e.eventTime ?? null,
    reportingController: e.reportingComponent ?? e.source?.component ?? "",
    reportingInstance: e.reportingInstance ?? e.source?.host ?? "",
    reason: e.reason,
    regarding: e.involvedObject,
    note: e.message,
    type: e.type,
  };
  if (e.action !== undefined) out.action = e.action;
  if (e.related !== undefined) out.related = e.related;
  if (e.series !== undefined) out.series = e.series;
  if (e.source !== undefined) out.deprecatedSource = e.source;
  if (e.firstTimestamp) out.deprecatedFirstTimestamp = e.firstTimestamp;
  if (e.lastTimestamp) out.deprecatedLastTimestamp = e.lastTimestamp;
  if (e.count !== undefined) out.deprecatedCount = e.count;
  return out;
}

export function eventsV1ToCoreEvent(given: KubeObject): KubeObject {
  const g = given as KubeObject & Record<string, unknown>;
  const out: KubeObject = {
    kind: "Event",
    apiVersion: "v1",
    metadata: given.metadata,
    involvedObject: (g.regarding as CoreEvent["involvedObject"] | undefined) ?? {},
    reason: g.reason,
    message: g.note,
    type: g.type,
    eventTime: g.eventTime ?? null,
    reportingComponent: g.reportingController ?? "",
    reportingInstance: g.reportingInstance ?? "",
    source: g.deprecatedSource ?? {},
    firstTimestamp: g.deprecatedFirstTimestamp ?? null,
    lastTimestamp: g.deprecatedLastTimestamp ?? null,
    count: g.deprecatedCount,
  };
  if (g.action !== undefined) out.action = g.action;
  if (g.related !== undefined) out.related = g.related;
  if (g.series !== undefined) out.series = g.series;
  return out;
}
