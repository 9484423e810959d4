import type { Command } from "../../src/commands/types.ts";
import { labSecrets } from "../../src/labs/naming.ts";
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
    // A job resumed after its write has no value any more (it was dropped): it follows the written version.
    if (command.value === undefined && ctx.saved.version === undefined) {
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
    // A secret added with `--new` is one the lab has from now on: rotate and rollback take it without the flag.
    const known = (names: readonly string[]) =>
      names.some((n) => n.toLowerCase() === command.secret.toLowerCase());
    if (!known(labSecrets(record))) {
      await deps.registry.update(record.name, (r) =>
        known(labSecrets(r)) ? r : { ...r, secrets: [...(r.secrets ?? []), command.secret] },
      );
    }
  };
}
