import { verbatim } from "../../src/chat/markup.ts";
import { auditLine, recentCommands } from "../../src/commands/audit-view.ts";
import type { Command } from "../../src/commands/types.ts";
import { connectField, portalUrl } from "../../src/labs/cards.ts";
import { labCostText } from "../../src/labs/cost.ts";
import { LAB_DEPLOYMENT, LAB_SECRETS, labNamesOf } from "../../src/labs/naming.ts";
import { expiryText, withWorldNote } from "../../src/labs/world-time.ts";
import type { Card } from "../../src/ports/chat.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import type { CommandProcessor, ProcessorContext } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { resolveLab } from "./lab-resolve.ts";
import { shortVersion } from "./versions.ts";

/** Reads Azure and the cluster for `lab status`; each part says what it could not read instead of failing. */
async function statusCard(ctx: ProcessorContext, deps: WorkflowDeps, record: LabRecord): Promise<Card> {
  const names = labNamesOf(record);
  const { signal } = ctx;
  const lines: string[] = [];
  const settle = async <T>(what: string, read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (error) {
      lines.push(
        `:warning: ${what}: ${error instanceof Error ? verbatim(error.message.slice(0, 160)) : "unreadable"}`,
      );
      return undefined;
    }
  };

  const [rg, aks, vault, mi] = await Promise.all([
    settle("resource group", () => deps.azure.getResourceGroup(names.resourceGroup, signal)),
    settle("cluster", () => deps.azure.getCluster(names.clusterResourceGroup, names.cluster, signal)),
    record.outputs.vaultName
      ? settle("vault", () =>
          deps.azure.getVault(names.resourceGroup, record.outputs.vaultName ?? "", signal),
        )
      : Promise.resolve(undefined),
    settle("identity", () => deps.azure.getIdentity(names.resourceGroup, names.identity, signal)),
  ]);
  lines.unshift(
    `*Azure* · resource group ${rg ? "✓" : "missing"} · ${names.host ? `host \`${names.host}\` (namespace \`${names.namespace}\`)` : "cluster"} ${aks ? aks.provisioningState : "missing"}` +
      `${aks?.keyVaultAddon?.rotation ? ` (CSI rotation every ${aks.keyVaultAddon.rotationPollInterval})` : ""}` +
      ` · vault ${vault ? "✓" : "missing"} · identity ${mi ? "✓" : "missing"}`,
  );

  if (aks?.provisioningState === "Succeeded") {
    const session = await settle("cluster credentials", async () =>
      deps.cluster.connect(
        await deps.azure.clusterUserKubeconfig(names.clusterResourceGroup, names.cluster, signal),
      ),
    );
    if (session) {
      try {
        const [deployment, pods, mounts] = await Promise.all([
          settle("deployment", () => session.getDeployment(names.namespace, LAB_DEPLOYMENT, signal)),
          settle("pods", () => session.listPods(names.namespace, "app=podinfo", signal)),
          settle("mounts", () => session.listMounts(names.namespace, signal)),
        ]);
        if (deployment) {
          lines.push(
            `*Rollout* · ${deployment.updatedReplicas}/${deployment.replicas} updated · ${deployment.readyReplicas} ready · ${deployment.availableReplicas} available`,
          );
        }
        for (const pod of pods ?? []) {
          const mount = mounts?.find((m) => m.podName === pod.name);
          const versions = LAB_SECRETS.map(
            (s) => `${s}@${mount?.versions[s] ? shortVersion(mount.versions[s] ?? "") : "–"}`,
          ).join(" ");
          lines.push(
            `• \`${verbatim(pod.name)}\` ${pod.ready ? "ready" : verbatim(pod.reason ?? pod.phase)}${pod.restartCount ? ` (${pod.restartCount} restarts)` : ""} · ${versions}`,
          );
        }
      } finally {
        session.close();
      }
    }
  }
  if (record.outputs.vaultUri) {
    const current = await settle("secrets", async () =>
      Promise.all(
        LAB_SECRETS.map((s) => deps.keyVault.currentVersion(record.outputs.vaultUri ?? "", s, signal)),
      ),
    );
    if (current) {
      lines.push(
        `*Vault* · ${current.map((v, i) => `${LAB_SECRETS[i]}@${v ? shortVersion(v.version) : "–"}`).join(" ")}`,
      );
    }
  }
  if (record.lastError)
    lines.push(`*Last error* · ${verbatim(record.lastError.step)}: \`${verbatim(record.lastError.code)}\``);
  const audit = deps.audit;
  // Several entries make one command (queued, then its outcome): read enough for five commands.
  const trail = audit ? await settle("audit", () => audit.recent({ lab: record.name, limit: 30 })) : [];
  const recent = recentCommands(trail ?? [], 5);
  if (recent.length > 0) lines.push("*Recent commands*", ...recent.map((e) => `• ${auditLine(e)}`));

  const actions: Card["actions"] = [];
  if (record.outputs.resourceGroupId) {
    actions.push({
      kind: "link",
      label: "Open in Azure portal",
      url: portalUrl(deps.settings.tenantId, record.outputs.resourceGroupId),
    });
  }
  if (record.state === "failed")
    actions.push({ kind: "button", id: "lab.retry", label: "Retry", value: record.name, style: "primary" });
  if (record.state === "ready")
    actions.push({ kind: "button", id: "lab.extend", label: "Extend 4h", value: record.name });
  return {
    title: `Lab ${record.name}: ${record.state}`,
    status: record.state === "ready" ? "succeeded" : record.state === "failed" ? "failed" : "info",
    text: lines.join("\n"),
    fields: [
      { label: "Owner", value: record.owner.name ?? record.owner.id },
      {
        label: "Expires",
        value: expiryText(record.expiresAt, deps.clock.now(), deps.clock.timeScale),
      },
      ...(record.outputs.vaultName ? [{ label: "Key Vault", value: record.outputs.vaultName }] : []),
      ...(record.state === "ready" ? [connectField(record)] : []),
      ...(record.host !== undefined
        ? [{ label: "Host", value: `${record.host} (its cost: \`host status ${record.host}\`)` }]
        : deps.prices
          ? [
              {
                label: "Cost",
                value: labCostText(
                  { ...deps.settings, timeScale: deps.clock.timeScale, prices: deps.prices },
                  record,
                  deps.clock.now(),
                ),
              },
            ]
          : []),
    ],
    ...(actions.length ? { actions } : {}),
    footer: withWorldNote(`ref ${verbatim(ctx.envelope.correlationId)}`, deps.clock.timeScale),
  };
}

/** `lab status [NAME]`: the lab as Azure, the cluster, the vault and the audit trail see it now. */
export function labStatusProcessor(deps: WorkflowDeps): CommandProcessor {
  return async (ctx) => {
    const command = ctx.envelope.command as Extract<Command, { kind: "lab.status" }>;
    const record = await resolveLab(ctx, deps, command.lab, { needReady: false, usage: "lab status NAME" });
    if (!record) return;
    await ctx.chat.openThread(ctx.envelope.origin.address, await statusCard(ctx, deps, record));
  };
}
