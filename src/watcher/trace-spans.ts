import { carrierOf, type SpanRef, type TraceCarrier, type Tracing } from "../ports/tracing.ts";
import { HOPS, type TraceState } from "./trace.ts";

/**
 * One trace per rotation: `labops.rotation` from the version's write
 * (`setAt`) to the alert that said how it went, a span per hop the watcher
 * saw (synced, reloaded, rollout, ready, mounted), each from the hop before
 * it to its own time, so the hop times are the spans' times, and
 * `labops.rotation.alert` around the chat calls that said it. The spans are
 * started when an alert is about to be said and kept only if it was said
 * now: an attempt that waits (the command's thread not registered yet), or
 * that another replica already made, leaves nothing behind (a span never
 * ended is never exported). A rotation labops wrote links to the rotate
 * command's job span, and a completion said after a stuck alert links to the
 * stuck alert's rotation span (docs/adr/0008, points 12 to 14).
 */

export type AlertKind = "completed" | "stuck" | "superseded";

export interface RotationSpans {
  /** The rotation span's context, kept with a stuck trace so that its completion links back to it. */
  readonly carrier: TraceCarrier | undefined;
  /** Runs the alert's send with its span active: the chat calls are its children. */
  run<T>(send: () => Promise<T>): Promise<T>;
  /** The alert was said: the hops go under the rotation, and both spans end. */
  said(where: "command thread" | "alert thread" | "channel" | undefined): void;
  /** The send failed: both spans end with the error. */
  failed(error: unknown): void;
}

export function rotationSpans(
  tracing: Tracing,
  trace: TraceState,
  kind: AlertKind,
  /** The rotate command's trace context (RotationThread.trace), when labops wrote the version. */
  command?: TraceCarrier,
): RotationSpans {
  // The command that wrote the version, and the rotation span of a stuck alert said before this one.
  const links = [tracing.extract(command), tracing.extract(trace.rotationTrace)].filter(
    (l): l is SpanRef => l !== undefined,
  );
  const root = tracing.startSpan("labops.rotation", {
    parent: null,
    startTime: trace.setAt,
    ...(links.length > 0 ? { links } : {}),
    attributes: {
      "labops.lab": trace.lab,
      "labops.secret.name": trace.secret,
      "labops.secret.version": trace.version.slice(0, 8),
      "labops.rotation.mode": trace.mode,
      "labops.rotation.by_labops": trace.changedBy !== undefined,
      "labops.correlation_id": trace.correlationId,
    },
  });
  const alert = tracing.startSpan("labops.rotation.alert", {
    parent: root.ref,
    attributes: { "labops.alert.kind": kind },
  });
  return {
    carrier: carrierOf(tracing, root.ref),
    run: (send) => tracing.withActive(alert.ref, send),
    said(where) {
      alert.setAttributes({ "labops.alert.where": where });
      // The alert is the rotation's last act: the rotation ends when it does, never a moment before.
      const alertEnded = alert.end();
      hopSpans(tracing, root.ref, trace);
      root.setAttributes({
        "labops.rotation.outcome": outcome(trace, kind),
        "labops.rotation.pods": trace.reached?.pods.length,
        "labops.rotation.desired": trace.reached?.desired,
        "labops.rotation.superseded_by": trace.supersededBy?.slice(0, 8),
      });
      // A microsecond after it: more than a double's rounding of epoch milliseconds (about 0.25 µs).
      root.end(alertEnded === undefined ? undefined : alertEnded + 0.001);
    },
    failed(error) {
      alert.recordError(error);
      alert.end();
      root.recordError(error);
      root.end();
    },
  };
}

function outcome(trace: TraceState, kind: AlertKind): string {
  if (kind === "completed") return trace.sameValue ? "same-value" : "completed";
  return kind;
}

/** A span per hop seen, from the hop before it (the write for the first) to its own time. */
export function hopSpans(tracing: Tracing, parent: SpanRef, trace: TraceState): void {
  let previous = trace.setAt;
  for (const hop of HOPS) {
    const at = trace.hops[hop];
    if (at === undefined) continue;
    const end = Math.max(at, previous);
    tracing
      .startSpan(`labops.rotation.${hop}`, {
        parent,
        startTime: previous,
        attributes: { "labops.rotation.hop": hop, "labops.rotation.offset_ms": end - trace.setAt },
      })
      .end(end);
    previous = end;
  }
}
