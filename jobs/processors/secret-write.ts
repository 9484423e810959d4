import { fingerprint } from "../../src/crypto.ts";
import { ExternalError } from "../../src/errors.ts";
import { rotationPollMs } from "../../src/labs/timing.ts";
import { formatElapsed, withWorldNote } from "../../src/labs/world-time.ts";
import type { Card, ThreadRef } from "../../src/ports/chat.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import { carrierOf } from "../../src/ports/tracing.ts";
import type { SecretValue } from "../../src/secret-value.ts";
import type { ProcessorContext } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { shortVersion } from "./versions.ts";

/** What `secret rotate` and `secret rollback` share: writing a version and handing its thread to the watcher. */
export interface RotationSpec {
  record: LabRecord;
  secret: string;
  /** Undefined only when a job resumes after the write, which dropped it from the job. */
  value: SecretValue | undefined;
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
export async function writeAndHandOff(
  ctx: ProcessorContext,
  deps: WorkflowDeps,
  spec: RotationSpec,
): Promise<void> {
  const { record, secret } = spec;
  const vaultUri = record.outputs.vaultUri;
  if (!vaultUri)
    throw new ExternalError("labops", "VaultUnknown", `Lab ${record.name} has no vault recorded.`);
  const { correlationId, origin } = ctx.envelope;
  const poll = rotationPollMs(deps.settings.rotationPollInterval);
  const rolloutMs = 30_000 * deps.settings.replicas;

  // The job saves the written version first thing, so a retried job follows it instead of writing another.
  let version = ctx.saved.version as string | undefined;
  let writtenAt = ctx.saved.writtenAt as number | undefined;
  let shown = ctx.saved.fingerprint as string | undefined;
  if (version === undefined) {
    if (spec.value === undefined) {
      throw new ExternalError("labops", "ValueGone", "The new value is no longer in the job; rotate again.");
    }
    // The version this one replaces goes into its tags: rollback follows that link, since
    // Key Vault's one-second timestamps cannot order versions written in the same second.
    const replaced = await deps.keyVault.currentVersion(vaultUri, secret, ctx.signal);
    const tags = replaced ? { ...spec.tags, "labops-previous": replaced.version } : spec.tags;
    writtenAt = deps.clock.now();
    const written = await deps.keyVault.setSecret(vaultUri, secret, spec.value, tags, ctx.signal);
    version = written.version;
    shown = fingerprint(spec.value, deps.fingerprintKey);
    // The value is in Key Vault now: the job drops it in the same write that records the version.
    await ctx.checkpoint({ version, writtenAt, fingerprint: shown }, { dropValue: true });
  }
  // Azure's pace, said as it passes here (the CSI driver's poll and the rollout are divided by the time scale).
  const scale = deps.clock.timeScale;
  const here = (ms: number) =>
    scale === 1 ? formatElapsed(ms) : `${formatElapsed(ms / scale)} (${formatElapsed(ms)} in Azure)`;
  const expected = here(poll + rolloutMs);
  const card: Card = {
    title: `${spec.title}: ${secret} in ${record.name}`,
    status: "running",
    text: `${spec.verb} version ${shortVersion(version)}. Expect it on every pod within about ${expected}: the CSI driver polls every ${here(poll)}, then Reloader rolls the deployment. labops follows it and says here when every pod runs it.`,
    fields: [
      { label: "New version", value: shortVersion(version) },
      ...(shown ? [{ label: "Fingerprint", value: shown }] : []),
    ],
    footer: withWorldNote(`ref ${correlationId}`, scale),
  };
  // A retried job keeps its thread: saved before it is handed over.
  let thread = ctx.saved.thread as ThreadRef | undefined;
  if (!thread) {
    thread = await ctx.chat.openThread(record.address, card);
    await ctx.checkpoint({ thread });
  }
  // The job's span, active here: the rotation's own trace links back to the command that wrote it.
  const trace = deps.tracing ? carrierOf(deps.tracing) : undefined;
  await deps.rotationThreads.register({
    lab: record.name,
    secret,
    version,
    thread,
    card,
    by: origin.user.name ?? origin.user.id,
    correlationId,
    writtenAt: writtenAt ?? deps.clock.now(),
    ...(trace ? { trace } : {}),
  });
}
