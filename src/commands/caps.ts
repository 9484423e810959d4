import { formatWhen } from "../labs/cards.ts";
import { teamLabs } from "../labs/naming.ts";
import { scaledInterval } from "../labs/timing.ts";
import type { AdmitRequest, AdmitResult, CapLimits, CapSubject, LabCaps } from "../ports/caps.ts";
import type { ChatAddress, ChatUser } from "../ports/chat.ts";
import type { LabRecord } from "../ports/registry.ts";
import { isAdmin, mention } from "./authorize.ts";
import { formatDuration } from "./parse.ts";
import type { Command } from "./types.ts";

/**
 * The caps of issue 14, as intake applies them before anything is queued:
 * live labs per user, per conversation and in all, commands per user per
 * minute (checked and counted in one atomic step of the LabCaps port, which
 * also holds a new lab's name until the worker records it), and the absolute
 * lifetime past which `lab extend` is refused. Each refusal names the cap,
 * what counts against it, and what to do. Admins are exempt from the
 * per-user, per-conversation and rate caps; the cap on all labs and the
 * lifetime hold for everyone, since they protect the subscription.
 */

export interface CapSettings {
  /** LABOPS_MAX_LABS_PER_USER */
  maxLabsPerUser: number;
  /** LABOPS_MAX_LABS_PER_CONVERSATION */
  maxLabsPerConversation: number;
  /** LABOPS_MAX_LABS */
  maxLabs: number;
  /** LABOPS_MAX_COMMANDS_PER_MINUTE */
  maxCommandsPerMinute: number;
  /** LABOPS_MAX_LAB_LIFETIME: from a lab's creation; scaled by the time scale like every lifetime. */
  maxLabLifetimeMs: number;
}

export interface CapsDeps {
  store: LabCaps;
  settings: CapSettings;
  /** LABOPS_TIME_SCALE: a lab's lifetime is counted in Azure's time, as its expiry is. */
  timeScale: number;
}

/** How long a create holds its lab's name before the worker must have recorded it (it releases it sooner). */
export const CREATE_HOLD_MS = 3_600_000;
const RATE_WINDOW_MS = 60_000;

/** A user as the caps count them: Teams ids compare without case, as `sameUser` does. */
export function userKey(user: ChatUser): string {
  return `${user.platform}\n${user.platform === "teams" ? user.id.toLowerCase() : user.id}`;
}

/** A conversation as the caps count them, as `sameConversation` compares. */
export function conversationKey(address: ChatAddress): string {
  return `${address.platform}\n${address.tenant}\n${address.channel}`;
}

/** When a lab must end, whatever extends it: its creation plus the longest lifetime. */
export function lifetimeEnd(
  record: Pick<LabRecord, "createdAt">,
  maxLifetimeMs: number,
  timeScale: number,
): number {
  return record.createdAt + scaledInterval(maxLifetimeMs, timeScale);
}

export type CapsDecision =
  /** `note`: what the queued answer should add (a `--ttl` longer than a lab may live is cut). */
  { ok: true; release(): Promise<void>; note?: string } | { ok: false; reason: string; text: string };

const NOTHING_HELD = async () => undefined;

/** `lab extend` past the longest a lab may live: refused whatever the counts. */
export function lifetimeRefusal(
  command: Command,
  record: LabRecord | undefined,
  deps: CapsDeps,
): Extract<CapsDecision, { ok: false }> | undefined {
  const { settings } = deps;
  if (command.kind !== "lab.extend" || !record) return undefined;
  const end = lifetimeEnd(record, settings.maxLabLifetimeMs, deps.timeScale);
  if (record.expiresAt < end) return undefined;
  return {
    ok: false,
    reason: "cap_lifetime",
    text: `Lab \`${record.name}\` cannot be extended: a lab lives at most ${formatDuration(settings.maxLabLifetimeMs)} from its creation (LABOPS_MAX_LAB_LIFETIME), so it ends ${formatWhen(end)}. Nothing was queued. Save what you need before then, and create a new lab if you need one after.`,
  };
}

/** What the store is asked to admit for `command`: who, under which limits, and the names it would hold. */
export function capsRequest(
  command: Command,
  origin: { user: ChatUser; address: ChatAddress },
  token: string,
  now: number,
  admins: readonly string[],
  deps: CapsDeps,
): AdmitRequest {
  const { settings } = deps;
  const subject: CapSubject = {
    user: userKey(origin.user),
    conversation: conversationKey(origin.address),
    exempt: isAdmin(origin.user, admins),
  };
  const limits: CapLimits = {
    labsPerUser: settings.maxLabsPerUser,
    labsPerConversation: settings.maxLabsPerConversation,
    labs: settings.maxLabs,
    commands: settings.maxCommandsPerMinute,
    windowMs: RATE_WINDOW_MS,
  };
  const owner = JSON.stringify(origin.user);
  return {
    subject,
    limits,
    now,
    token,
    ...(command.kind === "lab.create" ? { create: { lab: command.lab, holdMs: CREATE_HOLD_MS, owner } } : {}),
    // A workshop's labs (its command is for admins: exempt from every cap but the one on all labs).
    ...(command.kind === "workshop.create"
      ? { batch: { labs: teamLabs(command.prefix, command.teams), holdMs: CREATE_HOLD_MS, owner } }
      : {}),
  };
}

/** Whether two requests ask for the same thing (the rate, and the same names held), whenever asked. */
export function sameAsk(a: AdmitRequest, b: AdmitRequest): boolean {
  return (
    a.token === b.token &&
    a.subject.user === b.subject.user &&
    a.subject.conversation === b.subject.conversation &&
    a.subject.exempt === b.subject.exempt &&
    a.create?.lab === b.create?.lab &&
    a.batch?.labs.join("\n") === b.batch?.labs.join("\n")
  );
}

/** The store's answer to `request` as intake acts on it: go on (with how to let go of its names), or the refusal's text. */
export function capsDecision(
  result: AdmitResult,
  request: AdmitRequest,
  command: Command,
  deps: CapsDeps,
): CapsDecision {
  const { settings } = deps;
  if (!result.ok) {
    return {
      ok: false,
      reason: `cap_${result.cap}`,
      text: refusalText(result, command, request.now, settings),
    };
  }
  const { create, batch, token } = request;
  const cut = command.kind === "lab.create" && (command.ttlMs ?? 0) > settings.maxLabLifetimeMs;
  const release = create
    ? () => deps.store.release(create.lab, token)
    : batch
      ? async () => {
          await Promise.all(batch.labs.map((lab) => deps.store.release(lab, token)));
        }
      : NOTHING_HELD;
  return {
    ok: true,
    release,
    ...(cut
      ? {
          note: `It will live ${formatDuration(settings.maxLabLifetimeMs)}, the longest a lab may (LABOPS_MAX_LAB_LIFETIME).`,
        }
      : {}),
  };
}

/** Labs named in a refusal: the first few, then how many more (a cap of hundreds must not overflow a message). */
const NAMED = 10;

export function names(labs: readonly string[]): string {
  const shown = labs.slice(0, NAMED).map((l) => `\`${l}\``);
  return labs.length > NAMED ? `${shown.join(", ")} and ${labs.length - NAMED} more` : shown.join(", ");
}

function ownerOf(json: string | undefined): ChatUser | undefined {
  if (json === undefined) return undefined;
  try {
    const user = JSON.parse(json) as ChatUser;
    return typeof user.id === "string" && (user.platform === "slack" || user.platform === "teams")
      ? user
      : undefined;
  } catch {
    return undefined;
  }
}

export function refusalText(
  result: Exclude<AdmitResult, { ok: true }>,
  command: Command,
  now: number,
  settings: CapSettings,
): string {
  const lab = "lab" in command ? (command.lab ?? "") : "";
  switch (result.cap) {
    case "rate": {
      const seconds = Math.max(1, Math.ceil((result.retryAt - now) / 1000));
      return `You have sent ${result.count} commands in the last minute, the most labops takes from one person (LABOPS_MAX_COMMANDS_PER_MINUTE=${settings.maxCommandsPerMinute}). Nothing was done; try again in ${seconds} s.`;
    }
    case "user":
      return `You already have ${result.labs.length} live labs (${names(result.labs)}), the most one person may have (LABOPS_MAX_LABS_PER_USER=${settings.maxLabsPerUser}); failed labs and labs being created or destroyed count. Nothing was queued. Destroy one with \`lab destroy NAME\`, or ask an admin (LABOPS_ADMINS) to create \`${lab}\`.`;
    case "conversation":
      return `This conversation already has ${result.labs.length} live labs (${names(result.labs)}), the most one conversation may have (LABOPS_MAX_LABS_PER_CONVERSATION=${settings.maxLabsPerConversation}); failed labs and labs being created or destroyed count. Nothing was queued. Destroy one here with \`lab destroy NAME\`, or ask an admin (LABOPS_ADMINS).`;
    case "labs":
      if (command.kind === "workshop.create") {
        const room = Math.max(0, settings.maxLabs - result.labs.length);
        return `A workshop of ${command.teams} teams would add ${result.adding ?? command.teams} labs to the ${result.labs.length} live ones, more than labops may run at once (LABOPS_MAX_LABS=${settings.maxLabs}); every lab not yet destroyed counts, admins' too. Nothing was queued. ${room > 0 ? `Make it at most ${room} teams (\`workshop create ${command.prefix} --teams ${room}\`), or destroy` : "Destroy"} labs no longer used (say \`lab list\` to see them), or raise LABOPS_MAX_LABS.`;
      }
      return `labops already runs ${result.labs.length} live labs, the most it may run at once (LABOPS_MAX_LABS=${settings.maxLabs}); every lab not yet destroyed counts. Nothing was queued. Ask an admin (LABOPS_ADMINS) to destroy labs no longer used (\`lab list\` shows them), then try again.`;
    case "name": {
      if (result.holder === "pending" && result.sameConversation) {
        const owner = ownerOf(result.owner);
        return `Lab \`${lab}\` is already queued to be created here${owner ? ` by ${mention(owner)}` : ""}; its thread will show progress. Nothing more was queued.`;
      }
      return `Lab \`${lab}\` belongs to another conversation${result.holder === "pending" ? " (it is being created there)" : ""}. Nothing was queued. Pick another name, e.g. \`lab create ${lab}-2\`.`;
    }
  }
}
