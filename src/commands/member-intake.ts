import type { LineLogger } from "../log.ts";
import type { Platform } from "../ports/chat.ts";
import { describeCommand } from "./describe.ts";
import { type Decided, type IntakeDeps, refused } from "./intake.ts";
import { changeMembers, type MemberCommand } from "./members.ts";

export { isMemberCommand } from "./members.ts";

/** `lab grant` / `lab revoke`, already authorized: answered at intake, audited as answered or refused. */
export async function memberChange(
  cmd: MemberCommand,
  platform: Platform,
  deps: IntakeDeps,
  log: LineLogger,
): Promise<Decided> {
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
  return {
    outcome: { kind: "help", text: change.text },
    audit: { result: "answered", command: describeCommand(cmd), kind: cmd.kind, lab: cmd.lab },
  };
}
