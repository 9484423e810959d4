import { verbatim } from "../../src/chat/markup.ts";
import type { Command } from "../../src/commands/types.ts";
import type { CommandProcessor } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { resolveLab } from "./lab-resolve.ts";
import { writeAndHandOff } from "./secret-write.ts";
import { shortVersion } from "./versions.ts";

/**
 * `secret rollback NAME --lab LAB`: writes the previous version's value as a
 * new version (Key Vault cannot make an old version current again).
 */
export function secretRollbackProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx) => {
    const command = ctx.envelope.command as Extract<Command, { kind: "secret.rollback" }>;
    const record = await resolveLab(ctx, deps, command.lab, {
      needReady: true,
      usage: `secret rollback ${command.secret} --lab NAME`,
    });
    if (!record?.outputs.vaultUri) return;
    const { origin, correlationId } = ctx.envelope;
    const vaultUri = record.outputs.vaultUri;
    const current = await deps.keyVault.currentVersion(vaultUri, command.secret, ctx.signal);
    const others = (await deps.keyVault.listVersions(vaultUri, command.secret, ctx.signal)).filter(
      (v) => v.enabled && v.version !== current?.version,
    );
    // Follow the link labops wrote; versions written outside labops fall back to creation time.
    const linked = current?.tags["labops-previous"];
    const previous = others.find((v) => v.version === linked) ?? others[0];
    if (!current || !previous) {
      await ctx.chat.notify(
        origin.address,
        origin.user,
        `\`${verbatim(command.secret)}\` in \`${verbatim(record.name)}\` has ${current ? "only one version" : "no versions"}: there is nothing to roll back to.`,
      );
      return;
    }
    const value = await deps.keyVault.getValue(vaultUri, command.secret, previous.version, ctx.signal);
    await writeAndHandOff(ctx, deps, {
      record,
      secret: command.secret,
      value,
      tags: {
        "labops-by": `${origin.user.platform}:${origin.user.id}`,
        "labops-correlation": correlationId,
        "labops-rollback-of": current.version,
        "labops-restores": previous.version,
      },
      title: "Rollback",
      verb: `Restored the value of ${shortVersion(previous.version)} as`,
    });
  };
}
