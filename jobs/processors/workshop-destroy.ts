import type { Command } from "../../src/commands/types.ts";
import { createHostDestroyPlan } from "../../src/labs/host-plan.ts";
import { runPlan } from "../../src/labs/runner.ts";
import type { CardStep } from "../../src/ports/chat.ts";
import type { CommandProcessor, ProcessorContext } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { destroyLab } from "./host-destroy.ts";
import { hostLockName } from "./host-lock.ts";
import { labsOn } from "./host-status.ts";
import { lockHolder, withLabLock } from "./lab-lock.ts";
import { WORKSHOP_CONCURRENCY, workshopLabs } from "./workshop-create.ts";

/**
 * `workshop destroy PREFIX` (admins, confirmed): every lab `PREFIX-N`, a few
 * at a time, each by its own destroy plan; then host `PREFIX` when no other
 * lab lives on it (a host given with `--on` and still used is left alone).
 */
export function workshopDestroyProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx: ProcessorContext) => {
    const command = ctx.envelope.command as Extract<Command, { kind: "workshop.destroy" }>;
    const { origin, correlationId } = ctx.envelope;
    const { prefix } = command;
    const labs = workshopLabs(prefix, await deps.registry.list());
    const host = await deps.hosts.get(prefix);
    if (labs.length === 0 && !host) {
      await ctx.chat.notify(origin.address, origin.user, `There is no workshop \`${prefix}\` to destroy.`);
      return;
    }
    const rows: CardStep[] = [
      ...labs.map((l) => ({ name: l.name, label: l.name, state: "pending" as const })),
      ...(host ? [{ name: `host:${prefix}`, label: `host ${prefix}`, state: "pending" as const }] : []),
    ];
    const card = (status: "running" | "succeeded" | "failed", text?: string) => ({
      title: `Workshop ${prefix}: ${status === "running" ? "destroying" : status === "succeeded" ? "destroyed" : "destroy stopped"}`,
      status,
      steps: rows,
      progress: { done: rows.filter((r) => r.state === "done").length, total: rows.length },
      ...(text ? { text } : {}),
      footer: `ref ${correlationId}`,
    });
    const thread = await ctx.chat.openThread(origin.address, card("running"));
    const queue = [...labs];
    const failures: string[] = [];
    const worker = async () => {
      for (let lab = queue.shift(); lab; lab = queue.shift()) {
        const row = rows.find((r) => r.name === lab?.name);
        if (row) row.state = "running";
        try {
          await destroyLab(ctx, deps, lab, ctx.signal, ctx.logger);
          if (row) row.state = "done";
        } catch (error) {
          if (row) row.state = "failed";
          failures.push(`${lab.name}: ${error instanceof Error ? error.message.slice(0, 120) : "failed"}`);
        }
        await ctx.chat.updateCard(thread, card("running")).catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: Math.min(WORKSHOP_CONCURRENCY, labs.length) }, worker));

    const hostRow = rows.find((r) => r.name === `host:${prefix}`);
    if (host && hostRow) {
      const others = labsOn(prefix, await deps.registry.list());
      if (others.length > 0) {
        hostRow.state = "skipped";
        hostRow.detail = `kept: ${others.length} other labs on it`;
      } else {
        const done = await withLabLock(
          deps,
          hostLockName(prefix),
          lockHolder(ctx.jobId),
          ctx.signal,
          async () => {
            await deps.hosts.update(prefix, (r) => ({
              ...r,
              state: "destroying",
              updatedAt: deps.clock.now(),
            }));
            await runPlan(createHostDestroyPlan(prefix, deps), {
              signal: ctx.signal,
              logger: ctx.logger,
              clock: deps.clock,
              checkpoints: { done: {}, save: async () => {} },
            });
          },
        ).catch((error: unknown) => {
          failures.push(`host ${prefix}: ${error instanceof Error ? error.message.slice(0, 120) : "failed"}`);
          return undefined;
        });
        hostRow.state = done?.locked ? "done" : "failed";
      }
    }
    const ok = failures.length === 0;
    await ctx.chat.updateCard(
      thread,
      card(
        ok ? "succeeded" : "failed",
        ok ? undefined : `${failures.join("\n")}\nSay \`workshop destroy ${prefix}\` again to resume.`,
      ),
    );
    return ok ? undefined : { failed: "workshop_destroy_partial" };
  };
}
