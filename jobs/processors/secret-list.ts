import type { Command } from "../../src/commands/types.ts";
import { formatWhen } from "../../src/labs/cards.ts";
import type { CommandProcessor } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { resolveLab } from "./lab-resolve.ts";
import { changedBy, shortVersion } from "./versions.ts";

/** `secret list --lab LAB`: the vault's secrets, their current versions and who wrote them; never a value. */
export function secretListProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx) => {
    const command = ctx.envelope.command as Extract<Command, { kind: "secret.list" }>;
    const record = await resolveLab(ctx, deps, command.lab, {
      needReady: true,
      usage: "secret list --lab NAME",
    });
    if (!record?.outputs.vaultUri) return;
    const secrets = await deps.keyVault.listSecrets(record.outputs.vaultUri, ctx.signal);
    await ctx.chat.openThread(record.address, {
      title: `Secrets of ${record.name} (${record.outputs.vaultName ?? "vault"})`,
      status: "info",
      text: secrets.length === 0 ? "The vault holds no secrets." : "Values are never shown.",
      fields: secrets.slice(0, 10).map((s) => ({
        label: s.name,
        value: `${shortVersion(s.version)} · ${s.updatedOn ? formatWhen(s.updatedOn) : "?"} · ${changedBy(s.tags)}`,
      })),
      footer: `ref ${ctx.envelope.correlationId}`,
    });
  };
}
