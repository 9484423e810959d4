import type { Command } from "../../src/commands/types.ts";
import { fingerprint } from "../../src/crypto.ts";
import { ExternalError } from "../../src/errors.ts";
import { formatElapsed, formatWhen } from "../../src/labs/cards.ts";
import { LAB_SECRETS, labNames } from "../../src/labs/naming.ts";
import { compareMounts } from "../../src/labs/plan.ts";
import { scaledDeadline, scaledPoll } from "../../src/labs/timing.ts";
import type { Card } from "../../src/ports/chat.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import type { SecretValue } from "../../src/secret-value.ts";
import type { CommandProcessor, ProcessorContext } from "../worker.ts";
import type { WorkflowDeps } from "./deps.ts";
import { resolveLab } from "./lab-resolve.ts";

/** The rotation poll interval as milliseconds ("1m", "90s", "2m0s"). */
export function pollIntervalMs(text: string): number {
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(h|m|s)/g)) {
    ms += Number(m[1]) * (m[2] === "h" ? 3_600_000 : m[2] === "m" ? 60_000 : 1_000);
  }
  return ms || 120_000;
}

export function shortVersion(version: string): string {
  return version.slice(0, 8);
}

/** Who changed a version, from the tags labops writes; anything else came from outside labops. */
export function changedBy(tags: Record<string, string>): string {
  return tags["labops-by"] ? `labops (${tags["labops-by"]})` : "outside labops";
}

interface RotationSpec {
  record: LabRecord;
  secret: string;
  value: SecretValue;
  tags: Record<string, string>;
  title: string;
  verb: string;
}

/**
 * Writes the new version, says when to expect it on the pods, and follows it
 * through the cluster until every pod runs on it or the deadline passes.
 */
async function rotate(ctx: ProcessorContext, deps: WorkflowDeps, spec: RotationSpec): Promise<void> {
  const { record, secret } = spec;
  const vaultUri = record.outputs.vaultUri;
  if (!vaultUri)
    throw new ExternalError("labops", "VaultUnknown", `Lab ${record.name} has no vault recorded.`);
  const { correlationId } = ctx.envelope;
  const poll = pollIntervalMs(deps.settings.rotationPollInterval);
  const rolloutMs = 30_000 * deps.settings.replicas;
  const started = deps.now();

  // The job saves the written version first thing, so a retried job follows it instead of writing another.
  let version = ctx.saved.version as string | undefined;
  if (version === undefined) {
    // The version this one replaces goes into its tags: rollback follows that link, since
    // Key Vault's one-second timestamps cannot order versions written in the same second.
    const replaced = await deps.keyVault.currentVersion(vaultUri, secret, ctx.signal);
    const tags = replaced ? { ...spec.tags, "labops-previous": replaced.version } : spec.tags;
    const written = await deps.keyVault.setSecret(vaultUri, secret, spec.value, tags, ctx.signal);
    version = written.version;
    await ctx.checkpoint({ version });
  }
  const card = (status: Card["status"], text: string): Card => ({
    title: `${spec.title}: ${secret} in ${record.name}`,
    status,
    text,
    fields: [
      { label: "New version", value: shortVersion(version ?? "") },
      { label: "Fingerprint", value: fingerprint(spec.value) },
    ],
    footer: `ref ${correlationId}`,
  });
  const expected = formatElapsed(poll + rolloutMs);
  const thread = await ctx.chat.openThread(
    record.address,
    card(
      "running",
      `${spec.verb} version ${shortVersion(version)}. Expect it on every pod within about ${expected}: the CSI driver polls every ${deps.settings.rotationPollInterval}, then Reloader rolls the deployment.`,
    ),
  );

  const names = labNames(record.name);
  const deadline = started + scaledDeadline(poll * 2 + rolloutMs * 2, deps.settings.timeScale);
  const session = deps.cluster.connect(
    await deps.azure.clusterUserKubeconfig(names.resourceGroup, names.cluster, ctx.signal),
  );
  try {
    let last = "";
    for (;;) {
      const current: Record<string, string> = {};
      for (const name of LAB_SECRETS) {
        const v = await deps.keyVault.currentVersion(vaultUri, name, ctx.signal);
        if (v) current[name] = v.version;
      }
      const [pods, mounts] = await Promise.all([
        session.listPods(names.namespace, "app=podinfo", ctx.signal),
        session.listMounts(names.namespace, ctx.signal),
      ]);
      const report = compareMounts(pods, mounts, current, deps.settings.replicas);
      if (report.ready && current[secret] === version) {
        const took = formatElapsed(deps.now() - started);
        await ctx.chat.updateCard(
          thread,
          card(
            "succeeded",
            `Version ${shortVersion(version)} reached ${report.summary.replace(" on the vault's current versions", "")} in ${took}.`,
          ),
        );
        return;
      }
      if (current[secret] !== undefined && current[secret] !== version) {
        await ctx.chat.updateCard(
          thread,
          card(
            "info",
            `A newer version (${shortVersion(current[secret] ?? "")}) replaced ${shortVersion(version)} before it reached every pod.`,
          ),
        );
        return;
      }
      last = report.summary;
      if (deps.now() > deadline) {
        await ctx.chat.updateCard(
          thread,
          card("warning", `Version ${shortVersion(version)} has not reached every pod yet: ${last}.`),
        );
        await ctx.chat.reply(
          thread,
          "The rotation looks stuck. `lab status` shows each pod's mounted versions and recent events.",
        );
        return;
      }
      await deps.sleep(scaledPoll(2_000, deps.settings.timeScale), ctx.signal);
    }
  } finally {
    session.close();
  }
}

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
    await rotate(ctx, deps, {
      record,
      secret: command.secret,
      value: command.value,
      tags: { "labops-by": `${origin.user.platform}:${origin.user.id}`, "labops-correlation": correlationId },
      title: "Rotation",
      verb: "Wrote",
    });
  };
}

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
        `\`${command.secret}\` in \`${record.name}\` has ${current ? "only one version" : "no versions"}: there is nothing to roll back to.`,
      );
      return;
    }
    const value = await deps.keyVault.getValue(vaultUri, command.secret, previous.version, ctx.signal);
    await rotate(ctx, deps, {
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
