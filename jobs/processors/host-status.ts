import type { Command } from "../../src/commands/types.ts";
import { formatWhen, portalUrl } from "../../src/labs/cards.ts";
import { hostNames, labNamesOf } from "../../src/labs/naming.ts";
import type { Card } from "../../src/ports/chat.ts";
import type { HostRecord, LabRecord } from "../../src/ports/registry.ts";
import type { CommandProcessor, ProcessorContext } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";

/** `host status [NAME]`: one host's cluster and the labs on it, or every host when no name is given. */
export function hostStatusProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx) => {
    const command = ctx.envelope.command as Extract<Command, { kind: "host.status" }>;
    const { origin } = ctx.envelope;
    const labs = await deps.registry.list();
    if (command.host === undefined) {
      const hosts = await deps.hosts.list();
      const text =
        hosts.length === 0
          ? "There is no host cluster. An admin creates one with `host create NAME`."
          : hosts
              .map(
                (h) =>
                  `• \`${h.name}\` ${h.state} · ${h.nodeCount} nodes · ${labsOn(h.name, labs).length} labs`,
              )
              .join("\n");
      await ctx.chat.openThread(origin.address, { title: "Host clusters", status: "info", text });
      return;
    }
    const record = await deps.hosts.get(command.host);
    if (!record) {
      await ctx.chat.notify(
        origin.address,
        origin.user,
        `There is no host \`${command.host}\`. Say \`host status\` to see the hosts.`,
      );
      return;
    }
    await ctx.chat.openThread(origin.address, await hostCard(ctx, deps, record, labsOn(record.name, labs)));
  };
}

export function labsOn(host: string, labs: readonly LabRecord[]): LabRecord[] {
  return labs.filter((l) => l.host === host && l.state !== "destroyed");
}

async function hostCard(
  ctx: ProcessorContext,
  deps: WorkflowDeps,
  record: HostRecord,
  labs: LabRecord[],
): Promise<Card> {
  const names = hostNames(record.name);
  const lines: string[] = [];
  const aks = await deps.azure.getCluster(names.resourceGroup, names.cluster, ctx.signal).catch((error) => {
    lines.push(`:warning: cluster: ${error instanceof Error ? error.message.slice(0, 160) : "unreadable"}`);
    return undefined;
  });
  lines.unshift(
    `*Azure* · cluster \`${names.cluster}\` ${aks ? aks.provisioningState : "missing"}` +
      `${aks?.keyVaultAddon?.rotation ? ` (CSI rotation every ${aks.keyVaultAddon.rotationPollInterval})` : ""}` +
      `${aks ? ` · ${aks.nodeCount} nodes` : ""}`,
  );
  lines.push(labs.length === 0 ? "*Labs* · none" : `*Labs* · ${labs.length}`);
  for (const lab of labs) {
    lines.push(
      `• \`${lab.name}\` ${lab.state} · namespace \`${labNamesOf(lab).namespace}\` · owner ${lab.owner.name ?? lab.owner.id}`,
    );
  }
  if (record.lastError) lines.push(`*Last error* · ${record.lastError.step}: \`${record.lastError.code}\``);
  return {
    title: `Host ${record.name}: ${record.state}`,
    status: record.state === "ready" ? "succeeded" : record.state === "failed" ? "failed" : "info",
    text: lines.join("\n"),
    fields: [
      { label: "Owner", value: record.owner.name ?? record.owner.id },
      { label: "Expires", value: formatWhen(record.expiresAt) },
      { label: "Nodes", value: String(record.nodeCount) },
      { label: "Location", value: record.location },
    ],
    ...(record.outputs.resourceGroupId
      ? {
          actions: [
            {
              kind: "link" as const,
              label: "Open in Azure portal",
              url: portalUrl(deps.settings.tenantId, record.outputs.resourceGroupId),
            },
          ],
        }
      : {}),
    footer: `ref ${ctx.envelope.correlationId}`,
  };
}
