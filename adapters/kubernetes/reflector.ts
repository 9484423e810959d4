import { type KubeConfig, Watch } from "@kubernetes/client-node";
import { type BackoffPolicy, backoff, type Clock } from "../../src/clock.ts";
import { CancelledError } from "../../src/errors.ts";
import { withSignal } from "./cluster.ts";

/**
 * A reflector on client-node: one resource type of one cluster, kept in step
 * with the API server. List, then watch from the list's resourceVersion with
 * bookmarks; resume from the last resourceVersion when a stream ends; list
 * again after 410 Gone; after any other error, wait a jittered exponential
 * back-off (the clock's `backoff`) and start over. It knows nothing of what
 * it watches: each object is projected as it arrives (`project`), and only
 * the projection reaches the sink.
 *
 * client-node's own informer (ListWatch) does the list-and-watch part but
 * stops for good on an error other than 410 (its owner must restart it), and
 * caches whole objects. Projecting on arrival is client-go's
 * transform-function idea: the watcher of fifty clusters keeps a few hundred
 * bytes per pod, and a Secret's values can be reduced to digests before
 * anything else sees them.
 */

export interface ListResult {
  items: unknown[];
  resourceVersion: string;
}

/** Where a reflector hands on what it sees, already projected. */
export interface ReflectorSink<T> {
  /** A (re)list: the whole set as it is now. */
  replace(objects: T[]): void;
  upsert(object: T): void;
  remove(object: T): void;
  /** A list or stream failed; the reflector tries again in `retryInMs`. */
  failed?(error: Error, retryInMs: number): void;
}

export interface ReflectorOptions<T> {
  kubeConfig: KubeConfig;
  /** The collection's path, e.g. /api/v1/namespaces/x/pods. */
  path: string;
  query: Record<string, string>;
  list(signal: AbortSignal): Promise<ListResult>;
  /** What is kept of an object; undefined drops it. */
  project(raw: unknown): T | undefined;
  sink: ReflectorSink<T>;
  backoff: BackoffPolicy;
  clock: Clock;
  random: () => number;
}

type Raw = { metadata?: { resourceVersion?: string; [k: string]: unknown }; [k: string]: unknown };

interface StreamEnd {
  error: (Error & { statusCode?: number }) | null;
  gone: boolean;
  events: number;
  startedAt: number;
}

class StatusError extends Error {
  readonly statusCode: number;
  constructor(code: number, message: string) {
    super(message);
    this.statusCode = code;
  }
}

/** A list that takes longer than this (real time) is abandoned and retried. */
const LIST_TIMEOUT_MS = 20_000;
/** A stream that ends sooner than this (real time) with nothing said counts as a failure. */
const SHORT_STREAM_MS = 1_000;

export class Reflector<T> {
  readonly #o: ReflectorOptions<T>;
  readonly #watch: Watch;
  readonly #stop = new AbortController();
  #resourceVersion = "";
  #controller: AbortController | undefined;
  #streaming = false;
  #loop: Promise<void> | undefined;

  constructor(options: ReflectorOptions<T>) {
    this.#o = options;
    // client-node ends a stream quiet for 30 s (TimeoutError); bookmarks keep busy ones open, and a quiet one resumes.
    this.#watch = new Watch(options.kubeConfig);
  }

  /** A watch stream is open now. */
  get streaming(): boolean {
    return this.#streaming;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#controller?.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { sink, clock } = this.#o;
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      let end: StreamEnd;
      try {
        if (this.#resourceVersion === "") await this.#relist();
        end = await this.#stream();
      } catch (error) {
        end = { error: asError(error), gone: false, events: 0, startedAt: clock.now() };
      }
      if (this.#stop.signal.aborted) return;
      if (end.gone || end.error?.statusCode === 410) {
        // The resourceVersion was compacted away: start over from a fresh list, at once.
        this.#resourceVersion = "";
        failures = 0;
        continue;
      }
      if (end.error === null || end.error.name === "TimeoutError") {
        // A stream the server ended, or one quiet past client-node's idle timeout: resume where it was.
        // Only a stream that ends at once with nothing to say, again and again, earns a pause.
        if (end.events > 0 || clock.now() - end.startedAt > SHORT_STREAM_MS) {
          failures = 0;
          continue;
        }
      }
      failures += 1;
      const delay = Math.round(backoff(failures, this.#o.backoff, this.#o.random));
      if (end.error) sink.failed?.(end.error, delay);
      try {
        await clock.sleep(delay, this.#stop.signal);
      } catch (error) {
        if (error instanceof CancelledError) return;
        throw error;
      }
    }
  }

  /**
   * Lists and hands on the projections. A method of its own so that the
   * list (whole typed objects) is garbage once it returns: kept in the loop's
   * frame, it would live as long as the watch that follows.
   */
  async #relist(): Promise<void> {
    const list = await withSignal(this.#stop.signal, LIST_TIMEOUT_MS, (signal) => this.#o.list(signal));
    const objects: T[] = [];
    for (const raw of list.items) {
      const o = this.#o.project(raw);
      if (o !== undefined) objects.push(o);
    }
    this.#o.sink.replace(objects);
    this.#resourceVersion = list.resourceVersion;
  }

  #stream(): Promise<StreamEnd> {
    const startedAt = this.#o.clock.now();
    let events = 0;
    let gone = false;
    let statusError: StatusError | undefined;
    const { sink } = this.#o;
    return new Promise<StreamEnd>((resolve) => {
      const done = (error: unknown) => {
        this.#streaming = false;
        this.#controller = undefined;
        resolve({ error: statusError ?? (error ? asError(error) : null), gone, events, startedAt });
      };
      const onEvent = (type: string, object: Raw) => {
        if (type === "ERROR") {
          const status = object as { code?: number; message?: string };
          if (status.code === 410) gone = true;
          else statusError = new StatusError(status.code ?? 500, status.message ?? "watch error");
          this.#controller?.abort();
          return;
        }
        events += 1;
        const rv = object.metadata?.resourceVersion;
        if (rv) this.#resourceVersion = rv;
        if (type === "BOOKMARK") return;
        const projected = this.#o.project(object);
        if (projected === undefined) return;
        if (type === "DELETED") sink.remove(projected);
        else sink.upsert(projected);
      };
      this.#watch
        .watch(
          this.#o.path,
          { ...this.#o.query, resourceVersion: this.#resourceVersion, allowWatchBookmarks: "true" },
          onEvent,
          done,
        )
        .then(
          (controller) => {
            if (this.#stop.signal.aborted) {
              controller.abort();
              return;
            }
            this.#controller = controller;
            // watch() resolves once the response started; done() may have run already for a failed request.
            if (!controller.signal.aborted) this.#streaming = true;
          },
          (error: unknown) => done(error),
        );
    });
  }
}

function asError(error: unknown): Error & { statusCode?: number } {
  if (error instanceof Error) {
    const code =
      (error as { code?: unknown; statusCode?: unknown }).statusCode ?? (error as { code?: unknown }).code;
    const e = error as Error & { statusCode?: number };
    if (typeof code === "number" && e.statusCode === undefined) e.statusCode = code;
    return e;
  }
  return new Error(String(error));
}
