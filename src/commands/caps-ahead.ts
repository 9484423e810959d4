import type { AdmitRequest, AdmitResult } from "../ports/caps.ts";
import type { ChatAddress, ChatUser } from "../ports/chat.ts";
import type { LabRecord } from "../ports/registry.ts";
import {
  type CapsDecision,
  type CapsDeps,
  capsDecision,
  capsRequest,
  lifetimeRefusal,
  sameAsk,
} from "./caps.ts";
import { authorizeHost, isHostCommand } from "./host-intake.ts";
import type { Command, ParseResult } from "./types.ts";

/**
 * The caps asked for ahead: in the same round trip as the delivery's claim
 * and the registry read, before intake has checked anything, so that a
 * command that goes on waits for two round trips to the store (this one,
 * then its job with its audit entry) instead of three. What the caps count
 * is the same as if they were asked after the checks: a command the checks
 * refuse (or a retried delivery) has its admission cancelled, and one whose
 * command changed on the way (a create answered with the lab's status) is
 * cancelled and asked again. The token is the command's correlation id,
 * made anew for every request (a retried delivery's too), so cancelling one
 * request's admission never touches another's.
 */
export interface CapsAhead {
  readonly request: AdmitRequest;
  readonly result: Promise<AdmitResult>;
  /** Taken by the command at its caps step: no longer intake's to cancel. */
  used: boolean;
}

/** Asks for the caps of a parsed command that may reach them; undefined for one that never does. */
export function capsAhead(
  parsed: ParseResult,
  origin: { user: ChatUser; address: ChatAddress },
  token: string,
  now: number,
  admins: readonly string[],
  caps: CapsDeps,
): CapsAhead | undefined {
  if (!parsed.ok) return undefined;
  const cmd = parsed.command;
  // Help, and a rotate asked for its value first: never counted.
  if (cmd.kind === "help") return undefined;
  if (cmd.kind === "secret.rotate" && cmd.value === undefined) return undefined;
  // A workshop's or host's command refused to a non-admin holds no names, not even for a moment.
  if (isHostCommand(cmd) && !authorizeHost(cmd, origin.user, admins).ok) return undefined;
  const request = capsRequest(cmd, origin, token, now, admins, caps);
  const result = caps.store.admit(request);
  // Awaited at the caps step or by cancelAhead; a failure nobody reaches is the claim's failure too.
  result.catch(() => undefined);
  return { request, result, used: false };
}

/**
 * The caps step of a command that went through every check: the admission
 * asked ahead when it asked for this very thing, else asked now. `record`:
 * the lab the command is about, for the lifetime cap.
 */
export async function admitAt(
  ahead: CapsAhead | undefined,
  command: Command,
  origin: { user: ChatUser; address: ChatAddress },
  token: string,
  record: LabRecord | undefined,
  now: number,
  admins: readonly string[],
  caps: CapsDeps,
): Promise<CapsDecision> {
  const lifetime = lifetimeRefusal(command, record, caps);
  if (lifetime) return lifetime;
  const request = capsRequest(command, origin, token, now, admins, caps);
  if (ahead && sameAsk(ahead.request, request)) {
    ahead.used = true;
    return capsDecision(await ahead.result, ahead.request, command, caps);
  }
  // Asked for something else (same token): undone first, so the new ask is counted once, on its own.
  await cancelAhead(ahead, caps);
  if (ahead) ahead.used = true;
  return capsDecision(await caps.store.admit(request), request, command, caps);
}

/** Undoes an admission asked ahead that its command did not take; a refusal or a failure has nothing to undo. */
export async function cancelAhead(ahead: CapsAhead | undefined, caps: CapsDeps | undefined): Promise<void> {
  if (!ahead || ahead.used || !caps) return;
  const result = await ahead.result.catch(() => undefined);
  if (result?.ok) await caps.store.cancel(ahead.request);
}
