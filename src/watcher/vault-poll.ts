import type { Clock } from "../clock.ts";
import { errorCode } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { KeyVaultPort, SecretVersionInfo } from "../ports/azure.ts";
import type { LabRecord } from "../ports/registry.ts";
import type { LabWatchState } from "../ports/watcher.ts";
import { retryDelay, type WatcherSettings } from "./settings.ts";
import { traceId } from "./trace.ts";

/**
 * The vault side of a lab watcher: the current version of each of the lab's
 * secrets, listed every vaultPollMs (jittered, so fifty labs do not poll in
 * step), at once when nudged (a rotate command registered a version, or the
 * synced Secret changed), and with back-off while the vault fails. Each
 * listing goes to `onListing`; which of its versions start a trace is
 * `newVersions`.
 */

export interface VaultPollDeps {
  keyVault: KeyVaultPort;
  clock: Clock;
  settings: WatcherSettings;
  random: () => number;
  log: Logger;
}

export class VaultPoll {
  readonly #d: VaultPollDeps;
  readonly #vaultUri: string;
  readonly #signal: AbortSignal;
  readonly #onListing: (secrets: SecretVersionInfo[]) => Promise<void>;
  /** Ends the wait between polls, while there is one. */
  #wake: (() => void) | undefined;
  #again = false;

  constructor(
    deps: VaultPollDeps,
    vaultUri: string,
    signal: AbortSignal,
    onListing: (secrets: SecretVersionInfo[]) => Promise<void>,
  ) {
    this.#d = deps;
    this.#vaultUri = vaultUri;
    this.#signal = signal;
    this.#onListing = onListing;
    signal.addEventListener("abort", () => this.#wake?.(), { once: true });
  }

  /** Polls now (or again as soon as the poll under way is done). */
  nudge(): void {
    this.#again = true;
    this.#wake?.();
  }

  /** Polls until the signal fires. */
  async run(): Promise<void> {
    const { keyVault, settings, random, log } = this.#d;
    const signal = this.#signal;
    for (let failures = 0; !signal.aborted; ) {
      this.#again = false;
      try {
        const secrets = await keyVault.listSecrets(this.#vaultUri, signal);
        await this.#onListing(secrets);
        failures = 0;
      } catch (error) {
        if (signal.aborted) return;
        failures += 1;
        log.warn({ code: errorCode(error) }, "watcher.vault_poll_failed");
      }
      if (this.#again || signal.aborted) continue;
      await this.#wait(
        failures > 0 ? retryDelay(settings, failures, random) : settings.vaultPollMs * (0.9 + 0.2 * random()),
      );
    }
  }

  #wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        cancel();
        this.#wake = undefined;
        resolve();
      };
      const cancel = this.#d.clock.timeout(wake, ms);
      this.#wake = wake;
    });
  }
}

/**
 * The versions of a listing that are new to `state` (whose `versions` it
 * brings up to date), each with the version it replaces. At the first poll
 * of a lab, only those that are rotations to follow rather than where the
 * lab stands: written since the lab became ready (a rotate command can come
 * before the watcher's first poll), except the seeds the create job wrote,
 * and nothing older than the give-up window. A version already traced, or
 * traced and finished, is not new.
 */
export function newVersions(
  state: LabWatchState,
  secrets: readonly SecretVersionInfo[],
  record: LabRecord,
  now: number,
  giveUpMs: number,
): Array<{ secret: SecretVersionInfo; previous: string | undefined }> {
  const first = !state.baselined;
  const readyAt = record.steps?.verify?.finishedAt ?? record.updatedAt;
  const changedSinceReady = (s: SecretVersionInfo) =>
    s.tags["labops-reason"] !== "seed" &&
    s.createdOn !== undefined &&
    // createdOn is whole seconds: a version from the second the lab became ready counts.
    s.createdOn >= readyAt - 1_000 &&
    now - s.createdOn < giveUpMs;
  const fresh: Array<{ secret: SecretVersionInfo; previous: string | undefined }> = [];
  for (const s of secrets) {
    const previous = state.versions[s.name];
    if (previous === s.version) continue;
    state.versions[s.name] = s.version;
    if (first && !changedSinceReady(s)) continue;
    const id = traceId(record.name, s.name, s.version);
    if (state.finished.includes(id) || state.traces.some((t) => t.id === id)) continue;
    fresh.push({ secret: s, previous });
  }
  const present = new Set(secrets.map((s) => s.name));
  for (const name of Object.keys(state.versions)) if (!present.has(name)) delete state.versions[name];
  state.baselined = true;
  return fresh;
}
