import type { Command } from "../../src/commands/types.ts";
import { fingerprint } from "../../src/crypto.ts";
import { ExternalError } from "../../src/errors.ts";
import { formatElapsed, formatWhen } from "../../src/labs/cards.ts";
import { rotationPollMs } from "../../src/labs/timing.ts";
import type { Card, ThreadRef } from "../../src/ports/chat.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import type { SecretValue } from "../../src/secret-value.ts";
import type { CommandProcessor, ProcessorContext } from "../worker.ts";
import type { WorkflowDeps } from "./deps.ts";
import { resolveLab } from "./lab-resolve.ts";

/** The rotation poll interval as milliseconds ("1m", "90s", "2m0s"). */
export function pollIntervalMs(text: string): number {
  return rotationPollMs(text);
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
 * Writes the new version, says when to expect it on the pods, and hands the
 * thread to the rotation watcher, which follows the version through the
 * cluster and finishes this thread (or says where it is stuck). The job ends
 * here: following a rollout is the watcher's, for every version, whoever
 * wrote it.
 */
async function rotate(ctx: ProcessorContext, deps: WorkflowDeps, spec: RotationSpec): Promise<void> {
  const { record, secret } = spec;
  const vaultUri = record.outputs.vaultUri;
  if (!vaultUri)
    throw new ExternalError("labops", "VaultUnknown", `Lab ${record.name} has no vault recorded.`);
  const { correlationId, origin } = ctx.envelope;
  const poll = pollIntervalMs(deps.settings.rotationPollInterval);
  const rolloutMs = 30_000 * deps.settings.replicas;

  // The job saves the written version first thing, so a retried job follows it instead of writing another.
  let version = ctx.saved.version as string | undefined;
  let writtenAt = ctx.saved.writtenAt as number | undefined;
  if (version === undefined) {
    // The version this one replaces goes into its tags: rollback follows that link, since
    // Key Vault's one-second timestamps cannot order versions written in the same second.
    const replaced = await deps.keyVault.currentVersion(vaultUri, secret, ctx.signal);
    const tags = replaced ? { ...spec.tags, "labops-previous": replaced.version } : spec.tags;
    writtenAt = deps.now();
    const written = await deps.keyVault.setSecret(vaultUri, secret, spec.value, tags, ctx.signal);
    version = written.version;
    await ctx.checkpoint({ version, writtenAt });
  }
  const expected = formatElapsed(poll + rolloutMs);
  const card: Card = {
    title: `${spec.title}: ${secret} in ${record.name}`,
    status: "running",
    text: `${spec.verb} version ${shortVersion(version)}. Expect it on every pod within about ${expected}: the CSI driver polls every ${deps.settings.rotationPollInterval}, then Reloader rolls the deployment. labops follows it and says here when every pod runs it.`,
    fields: [
      { label: "New version", value: shortVersion(version) },
      { label: "Fingerprint", value: fingerprint(spec.value) },
    ],
    footer: `ref ${correlationId}`,
  };
  // A retried job keeps its thread: saved before it is handed over.
  let thread = ctx.saved.thread as ThreadRef | undefined;
  if (!thread) {
    thread = await ctx.chat.openThread(record.address, card);
    await ctx.checkpoint({ thread });
  }
  await deps.rotationThreads.register({
    lab: record.name,
    secret,
    version,
    thread,
    card,
    by: origin.user.name ?? origin.user.id,
    correlationId,
    writtenAt: writtenAt ?? deps.now(),
  });
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
