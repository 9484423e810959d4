import type { Command } from "../../src/commands/types.ts";
import type { CommandProcessor } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { resolveLab } from "./lab-resolve.ts";
import { writeAndHandOff } from "./secret-write.ts";

/** `secret rotate NAME VALUE --lab LAB`: writes the new value and hands the rollout to the watcher. */
export function secretRotateProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx) => {
    const command = ctx.envelope.command as Extract<Command, { kind: "secret.rotate" }>;
    const usage = `secret rotate ${command.secret} VALUE --lab NAME`;
    const record = await resolveLab(ctx, deps, command.lab, { needReady: true, usage });
    if (!record) return;
    if (command.value === undefined) {
      await ctx.chat.notify(
        ctx.envelope.origin.address,
        ctx.envelope.origin.user,
        `Give the new value: \`${usage}\`.`,
      );
      return;
    }
    const { origin, correlationId } = ctx.envelope;
    await writeAndHandOff(ctx, deps, {
      record,
      secret: command.secret,
      value: command.value,
      tags: { "labops-by": `${origin.user.platform}:${origin.user.id}`, "labops-correlation": correlationId },
      title: "Rotation",
      verb: "Wrote",
    });
  };
}
