/**
 * How cards say time. One rule everywhere: a duration or a moment is said as
 * it passes for the reader (real time, the clock on their wall). When the
 * world runs faster than Azure (LABOPS_TIME_SCALE > 1, the emulators), the
 * Azure figure follows in brackets where it teaches something ("usually
 * 24s–36s here, 4–6 min in Azure"), and the card's footer says the world is
 * sped up. At time scale 1 nothing is added.
 */

const MINUTE = 60_000;

/** `12s`, `4m05s`, `8h00m`: a duration as cards show it. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** A moment as cards show it: `2026-12-01 09:48 UTC`. */
export function formatWhen(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** `40s`, `2 min`, `1m30s`: a duration in a usual range. */
function short(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  return s % 60 === 0 ? `${s / 60} min` : formatElapsed(ms);
}

/** `4–6 min`, `6–12s`, `30s–1 min`: a usual range. */
function range(lowMs: number, highMs: number): string {
  const [low, high] = [Math.round(lowMs / 1000), Math.round(highMs / 1000)];
  // A world sped up a hundredfold makes minutes into moments: "under 1s", not "0–1s".
  if (low === 0) return `under ${Math.max(1, high)}s`;
  if (high < 60) return `${low}–${high}s`;
  if (low >= 60 && low % 60 === 0 && high % 60 === 0) return `${low / 60}–${high / 60} min`;
  return `${short(lowMs)}–${short(highMs)}`;
}

/** Whether the world runs at another pace than Azure. */
export function spedUp(timeScale: number): boolean {
  return timeScale !== 1;
}

/** The footer line of every card with times on it when the world is sped up; undefined at scale 1. */
export function worldNote(timeScale: number): string | undefined {
  if (!spedUp(timeScale)) return undefined;
  return `Emulated world, ${formatScale(timeScale)} faster than Azure: times are real time here, Azure's in brackets.`;
}

function formatScale(timeScale: number): string {
  return `${Number.isInteger(timeScale) ? timeScale : timeScale.toFixed(1)}×`;
}

/** The card's footer: its own small print and, when the world is sped up, the note. */
export function withWorldNote(footer: string, timeScale: number): string {
  const note = worldNote(timeScale);
  return note ? `${footer} · ${note}` : footer;
}

/**
 * What a step usually takes, from a range in Azure's time: `usually 4–6 min`
 * at scale 1, `usually 24–36s here, 4–6 min in Azure` when sped up.
 */
export function usualText(usual: readonly [number, number], timeScale: number): string {
  const [low, high] = usual;
  if (!spedUp(timeScale)) return `usually ${range(low, high)}`;
  return `usually ${range(low / timeScale, high / timeScale)} here, ${range(low, high)} in Azure`;
}

/** How long something took: `4m12s`, or `25s here, 4m10s in Azure` when sped up. */
export function tookText(realMs: number, timeScale: number): string {
  if (!spedUp(timeScale)) return formatElapsed(realMs);
  return `${formatElapsed(realMs)} here, ${formatElapsed(realMs * timeScale)} in Azure`;
}

/** `2026-12-01 09:48 UTC, in 48m (8h00m in Azure time)`: an expiry, with what is left of it. */
export function expiryText(expiresAt: number, now: number, timeScale: number): string {
  const left = expiresAt - now;
  if (left <= 0) return `${formatWhen(expiresAt)}, due now`;
  const azure = spedUp(timeScale) ? ` (${formatElapsed(left * timeScale)} in Azure time)` : "";
  return `${formatWhen(expiresAt)}, in ${formatElapsed(left)}${azure}`;
}

/**
 * An expiry on a card that stays in the channel (the create card): the moment
 * and the lifetime it gives, which stay true as time passes, unlike "in 47m":
 * `2026-12-01 09:48 UTC, 48m after creation (8h00m in Azure time)`.
 */
export function lifetimeText(createdAt: number, expiresAt: number, timeScale: number): string {
  const life = expiresAt - createdAt;
  const azure = spedUp(timeScale) ? ` (${formatElapsed(life * timeScale)} in Azure time)` : "";
  return `${formatWhen(expiresAt)}, ${formatElapsed(life)} after creation${azure}`;
}

/**
 * What the long steps of a lab usually take in Azure (a small lab in one
 * region), shown beside a running step so a quiet minute does not look stuck.
 * The emulators' latency profile sits inside these ranges.
 */
export const USUAL_STEP_MS: Readonly<Record<string, readonly [number, number]>> = {
  aks: [4 * MINUTE, 6 * MINUTE],
  kv: [20_000, 60_000],
  secrets: [MINUTE, 2 * MINUTE],
  workload: [10_000, 60_000],
  verify: [30_000, 2 * MINUTE],
  "rg-delete": [5 * MINUTE, 10 * MINUTE],
  "kv-purge": [30_000, MINUTE],
};

/** Key Vault's answer while a new role assignment has not reached its data plane yet. */
const RBAC_NOT_YET = new Set(["ForbiddenByRbac"]);

/** RBAC assignments take one to two minutes to reach Key Vault's data plane. */
export const ROLE_PROPAGATION_MS: readonly [number, number] = [MINUTE, 2 * MINUTE];

/**
 * The detail of a step waiting to try again. A 403 from Key Vault right after
 * its role was granted is the role still propagating, which is expected, not
 * an error: it is said so, with how long that usually takes.
 */
export function retryDetail(code: string, delayMs: number, timeScale: number): string {
  if (RBAC_NOT_YET.has(code)) {
    return `waiting for the new Key Vault role to take effect (${usualText(ROLE_PROPAGATION_MS, timeScale)})`;
  }
  return `${code}, retrying in ${formatElapsed(delayMs)}`;
}
