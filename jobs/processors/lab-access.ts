import { verbatim } from "../../src/chat/markup.ts";
import { mention, sameUser } from "../../src/commands/authorize.ts";
import { type MemberCommand, memberUser } from "../../src/commands/members.ts";
import { ExternalError } from "../../src/errors.ts";
import { grantNamespaceAccess, revokeNamespaceAccess } from "../../src/labs/namespace-access.ts";
import { hostedLabNamespace, hostNames } from "../../src/labs/naming.ts";
import { runPlan, StepFailedError } from "../../src/labs/runner.ts";
import type { Step } from "../../src/labs/steps.ts";
import { scaledDeadline, scaledRetry } from "../../src/labs/timing.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import type { CommandProcessor, ProcessorContext } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { jobCheckpoints } from "./plan-run.ts";

/** One Azure call's patience: ARM answers a role assignment in seconds. */
const CALL_TIMEOUT_MS = 60_000;

/**
 * The Azure part of `lab grant` / `lab revoke` on a lab on a host (queued by
 * src/commands/member-intake.ts once the record is updated): the member's
 * role assignments for the lab's namespace (src/labs/namespace-access.ts),
 * one retried, time-limited step, then a line in the lab's thread. A job that
 * finds the membership changed again since it was queued does nothing: the
 * later command's own job decides.
 */
export function labAccessProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx) => {
    const command = ctx.envelope.command as MemberCommand;
    const member = memberUser(command, ctx.envelope.origin.address.platform);
    const record = await deps.registry.get(command.lab);
    const host = record?.host;
    const grant = command.kind === "lab.grant";
    // Nothing is granted on a lab being destroyed (its destroy removes what its record names); a
    // revoke still goes through, since the destroy no longer names the revoked member.
    const dying = record?.state === "destroying" || record?.state === "destroyed";
    if (!record || !host || (grant && dying)) {
      ctx.logger.info({ lab: command.lab }, "access.no_hosted_lab");
      return;
    }
    const isMember = (record.members ?? []).some((m) => sameUser(m, member));
    if (grant !== isMember) {
      ctx.logger.info({ lab: command.lab, kind: command.kind }, "access.membership_changed");
      return;
    }
    const where = { subscriptionId: deps.settings.subscriptionId, host, lab: record.name };
    const step: Step = {
      name: grant ? "access" : "access-revoke",
      label: grant ? "Namespace access" : "Remove namespace access",
      dependsOn: [],
      retry: scaledRetry({ attempts: 5, initialDelayMs: 2_000, maxDelayMs: 30_000 }, deps.clock.timeScale),
      run: ({ signal }) =>
        withTimeout(deps, signal, async (limited) => {
          const done = grant
            ? await grantNamespaceAccess(deps.azure, where, member, limited)
            : await revokeNamespaceAccess(deps.azure, where, member, limited);
          return { done: String(done) };
        }),
    };
    try {
      await runPlan([step], {
        signal: ctx.signal,
        drain: ctx.drain,
        logger: ctx.logger,
        clock: deps.clock,
        checkpoints: jobCheckpoints(ctx, "accessSteps"),
        ...(deps.tracing ? { tracing: deps.tracing } : {}),
      });
    } catch (error) {
      if (!(error instanceof StepFailedError)) throw error;
      await say(ctx, record, failedText(command, member, record, error.code));
      return { failed: error.code };
    }
    await say(ctx, record, doneText(command, member, record, host));
    return undefined;
  };
}

/** Runs `fn` with a signal that also fires after CALL_TIMEOUT_MS (scaled), turning that into a retryable failure. */
async function withTimeout<T>(
  deps: Pick<WorkflowDeps, "clock">,
  signal: AbortSignal,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timer = new AbortController();
  const ms = scaledDeadline(CALL_TIMEOUT_MS, deps.clock.timeScale);
  const cancel = deps.clock.timeout(() => timer.abort(), ms);
  try {
    return await fn(AbortSignal.any([signal, timer.signal]));
  } catch (error) {
    if (timer.signal.aborted && !signal.aborted) {
      throw new ExternalError("azure", "Timeout", `Azure did not answer within ${ms} ms.`, {
        retryable: true,
      });
    }
    throw error;
  } finally {
    cancel();
  }
}

async function say(ctx: ProcessorContext, record: LabRecord, text: string): Promise<void> {
  const { origin } = ctx.envelope;
  if (record.thread) await ctx.chat.reply(record.thread, text);
  else await ctx.chat.notify(origin.address, origin.user, text);
}

function doneText(
  command: MemberCommand,
  member: LabRecord["owner"],
  record: LabRecord,
  host: string,
): string {
  const ns = `\`${hostedLabNamespace(record.name)}\``;
  const names = hostNames(host);
  if (command.kind === "lab.revoke") {
    return `${mention(member)} no longer has kubectl access to namespace ${ns} (their Azure Kubernetes Service RBAC Writer role there is removed).`;
  }
  return `${mention(member)} has kubectl access to namespace ${ns} on host \`${verbatim(host)}\` (Azure RBAC Writer there; allow a few minutes for it to apply): \`az aks get-credentials -g ${names.resourceGroup} -n ${names.cluster}\`, \`kubelogin convert-kubeconfig -l azurecli\`, then \`kubectl -n ${hostedLabNamespace(record.name)} get pods\`.`;
}

function failedText(
  command: MemberCommand,
  member: LabRecord["owner"],
  record: LabRecord,
  code: string,
): string {
  const ns = `\`${hostedLabNamespace(record.name)}\``;
  const again = `\`lab ${command.kind === "lab.grant" ? "grant" : "revoke"} ${verbatim(record.name)} @user\``;
  return command.kind === "lab.grant"
    ? `Could not give ${mention(member)} kubectl access to namespace ${ns} (\`${verbatim(code)}\`). Say ${again} again to retry.`
    : `Could not remove the kubectl access of ${mention(member)} to namespace ${ns} (\`${verbatim(code)}\`). Grant and revoke again to retry.`;
}
