import type { Clock } from "../clock.ts";
import { CancelledError, errorCode } from "../errors.ts";
import { LAB_POD_SELECTOR, type labNames, RELOADER_DEPLOYMENT, RELOADER_NAMESPACE } from "../labs/naming.ts";
import { rotationPollMs } from "../labs/timing.ts";
import type { Logger } from "../log.ts";
import type { AzureLabPort } from "../ports/azure.ts";
import type { ClusterPort, ClusterSession } from "../ports/cluster.ts";
import type { ClusterWatch, ClusterWatchPort, ClusterWatchSink, WatchKind } from "../ports/cluster-watch.ts";
import { retryDelay, type WatcherSettings } from "./settings.ts";

/**
 * How a lab watcher reaches its lab's cluster: the Key Vault addon's
 * settings read from Azure, the cluster user's kubeconfig, and the watches
 * on it, retried with back-off until they work or the watcher stops. Watches
 * that keep answering 401/403 mean the credential expired: it is fetched
 * again. The kubeconfig is held while watching (as the watches hold it
 * too): a credential, never logged or stored.
 */

export interface ClusterLinkDeps {
  azure: AzureLabPort;
  cluster: ClusterPort;
  clusterWatch: ClusterWatchPort;
  clock: Clock;
  settings: WatcherSettings;
  random: () => number;
}

/** The addon's rotation settings as last read (enabled undefined until read, or with no addon). */
export interface RotationSettings {
  enabled: boolean | undefined;
  pollMs: number;
}

export class ClusterLink {
  readonly #d: ClusterLinkDeps;
  readonly #names: ReturnType<typeof labNames>;
  readonly #sink: ClusterWatchSink;
  readonly #signal: AbortSignal;
  readonly #log: Logger;
  #watch: ClusterWatch | undefined;
  #kubeconfig: string | undefined;
  #loops: Promise<void>[] = [];
  #authFailures = 0;
  #rotation: RotationSettings = { enabled: undefined, pollMs: 60_000 };

  constructor(
    deps: ClusterLinkDeps,
    names: ReturnType<typeof labNames>,
    sink: ClusterWatchSink,
    signal: AbortSignal,
    log: Logger,
  ) {
    this.#d = deps;
    this.#names = names;
    this.#sink = sink;
    this.#signal = signal;
    this.#log = log;
  }

  get openWatches(): number {
    return this.#watch?.openWatches ?? 0;
  }

  get rotation(): RotationSettings {
    return this.#rotation;
  }

  /** Connects in the background, retrying until connected or the signal fires. */
  start(): void {
    this.#loops.push(this.#connect());
  }

  /** After the signal fired: waits for the connecting to end, then closes the watches. */
  async stop(): Promise<void> {
    await Promise.all(this.#loops);
    await this.#watch?.stop();
    this.#kubeconfig = undefined;
  }

  async #connect(): Promise<void> {
    const { azure, clusterWatch, clock } = this.#d;
    const signal = this.#signal;
    for (let failures = 0; !signal.aborted; ) {
      try {
        await this.readAddon();
        const kubeconfig = await azure.clusterUserKubeconfig(
          this.#names.clusterResourceGroup,
          this.#names.cluster,
          signal,
        );
        if (signal.aborted) return;
        this.#kubeconfig = kubeconfig;
        this.#watch = clusterWatch.watch(
          kubeconfig,
          {
            namespace: this.#names.namespace,
            deployment: this.#names.deployment,
            podSelector: LAB_POD_SELECTOR,
            syncedSecret: this.#names.syncedSecret,
            // The labs of one host share its watches (shared-watches.ts), routed to each by namespace.
            ...(this.#names.host === undefined
              ? {}
              : { shareKey: `${this.#names.clusterResourceGroup}/${this.#names.cluster}` }),
          },
          this.#watchSink(),
        );
        return;
      } catch (error) {
        if (signal.aborted) return;
        failures += 1;
        const wait = retryDelay(this.#d.settings, failures, this.#d.random);
        this.#log.warn({ code: errorCode(error), retryInMs: wait }, "watcher.cluster_unreachable");
        await clock.sleep(wait, signal).catch((e: unknown) => {
          if (!(e instanceof CancelledError)) throw e;
        });
      }
    }
  }

  /** The view's sink, plus what a failing watch means: a credential that expired is fetched again. */
  #watchSink(): ClusterWatchSink {
    const sink = this.#sink;
    return {
      replace: (kind, objects) => {
        this.#authFailures = 0;
        sink.replace(kind, objects);
      },
      upsert: (kind, object) => sink.upsert(kind, object),
      remove: (kind, object) => sink.remove(kind, object),
      failed: (kind: WatchKind, error: Error, retryInMs: number) => {
        const status = (error as { statusCode?: number }).statusCode;
        this.#log.warn({ kind, status, code: errorCode(error), retryInMs }, "watcher.watch_failed");
        if (status === 401 || status === 403) {
          this.#authFailures += 1;
          if (this.#authFailures === 3) void this.#reconnect();
        }
      },
    };
  }

  async #reconnect(): Promise<void> {
    const watch = this.#watch;
    this.#watch = undefined;
    await watch?.stop();
    this.#kubeconfig = undefined;
    this.#authFailures = 0;
    if (!this.#signal.aborted) this.#loops.push(this.#connect());
  }

  /** Reads the addon's rotation settings from Azure (kept when the cluster has no addon entry). */
  async readAddon(): Promise<void> {
    const info = await this.#d.azure.getCluster(
      this.#names.clusterResourceGroup,
      this.#names.cluster,
      this.#signal,
    );
    const addon = info?.keyVaultAddon;
    this.#rotation = {
      enabled: addon ? addon.enabled && addon.rotation : undefined,
      pollMs: addon ? rotationPollMs(addon.rotationPollInterval) : this.#rotation.pollMs,
    };
  }

  /** Whether Reloader runs in the cluster; undefined when it cannot be read (or not connected yet). */
  async reloaderAvailable(): Promise<boolean | undefined> {
    // A session only for the diagnosis (rare): fifty idle sessions would cost more than the watches.
    const session: ClusterSession | undefined = this.#kubeconfig
      ? this.#d.cluster.connect(this.#kubeconfig)
      : undefined;
    if (!session) return undefined;
    try {
      const reloader = await session.getDeployment(RELOADER_NAMESPACE, RELOADER_DEPLOYMENT, this.#signal);
      return reloader !== undefined && reloader.availableReplicas > 0;
    } catch (error) {
      this.#log.warn({ code: errorCode(error) }, "watcher.reloader_unreadable");
      return undefined;
    } finally {
      session.close();
    }
  }
}
