import { verbatim } from "../chat/markup.ts";
import { errorCode } from "../errors.ts";
import { entraObjectId } from "../labs/namespace-access.ts";
import { hostedLabNamespace } from "../labs/naming.ts";
import type { LineLogger } from "../log.ts";
import type { LabRecord } from "../ports/registry.ts";
import { describeCommand } from "./describe.ts";
import { type Decided, type IncomingCommand, type IntakeDeps, refused } from "./intake.ts";
import { changeMembers, type MemberCommand, memberUser } from "./members.ts";

export { isMemberCommand } from "./members.ts";

/**
 * `lab grant` / `lab revoke`, already authorized: answered at intake, audited
 * as answered or refused. On a lab on a host whose member labops knows the
 * Entra object id of (Teams), the member's kubectl access to the lab's
 * namespace follows in a job of the same kind (jobs/processors/lab-access.ts):
 * Azure role assignments, never made at intake.
 */
export async function memberChange(
  cmd: MemberCommand,
  incoming: IncomingCommand,
  deps: IntakeDeps,
  log: LineLogger,
): Promise<Decided> {
  const platform = incoming.origin.address.platform;
  if (!deps.members) {
    return refused(
      cmd,
      { reason: "members_unavailable", text: "Granting access is not available here. Nothing was changed." },
      log,
    );
  }
  const change = await changeMembers(cmd, platform, deps.members, deps.clock);
  if (!change.ok) return refused(cmd, change, log);
  log.info({ command: describeCommand(cmd) }, "command.members_changed");
  let text = change.text;
  // A grant said again queues the access again (its job is idempotent): the way to retry a failed one.
  const queue = cmd.kind === "lab.grant" || change.changed === true;
  if (queue && change.record) text += await queueAccess(cmd, incoming, change.record, deps, log);
  return {
    outcome: { kind: "help", text },
    audit: { result: "answered", command: describeCommand(cmd), kind: cmd.kind, lab: cmd.lab },
  };
}

/**
 * Queues the access job when there is one to do, and says so: the job of the
 * grant's own delivery (a retried delivery makes no second job), in its
 * story (correlation id), speaking to whoever granted, where they did.
 */
async function queueAccess(
  cmd: MemberCommand,
  incoming: IncomingCommand,
  record: LabRecord,
  deps: IntakeDeps,
  log: LineLogger,
): Promise<string> {
  const member = memberUser(cmd, incoming.origin.address.platform);
  if (!record.host || !entraObjectId(member)) return "";
  const where = `namespace \`${hostedLabNamespace(record.name)}\` on host \`${verbatim(record.host)}\``;
  try {
    const { jobId } = await deps.queue.enqueue({
      deliveryId: incoming.deliveryId,
      correlationId: incoming.correlationId,
      command: cmd,
      origin: incoming.origin,
      receivedAt: incoming.receivedAt,
    });
    log.info({ command: describeCommand(cmd), jobId }, "command.access_queued");
    return cmd.kind === "lab.grant"
      ? ` Their kubectl access to ${where} follows in a moment; labops says so in the lab's thread.`
      : ` Their kubectl access to ${where} is being removed; labops says so in the lab's thread.`;
  } catch (error) {
    log.error({ code: errorCode(error), command: describeCommand(cmd) }, "command.access_enqueue_failed");
    return cmd.kind === "lab.grant"
      ? ` Their kubectl access to ${where} could not be queued (the queue is unreachable): say this again in a minute.`
      : ` Their kubectl access to ${where} could not be removed now (the queue is unreachable): grant and revoke again in a minute.`;
  }
}
