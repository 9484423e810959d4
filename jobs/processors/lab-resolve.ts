import { verbatim } from "../../src/chat/markup.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import type { ProcessorContext } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";

/**
 * The lab a command is about: the one named, or else the only lab of the
 * channel the command came from. Tells the user and returns undefined when
 * that is not one lab, or when the lab is not ready for the command.
 */
export async function resolveLab(
  ctx: ProcessorContext,
  deps: WorkflowDeps,
  named: string | undefined,
  options: { needReady: boolean; usage: string },
): Promise<LabRecord | undefined> {
  const { origin } = ctx.envelope;
  let record: LabRecord | undefined;
  if (named !== undefined) {
    record = await deps.registry.get(named);
    if (!record) {
      await ctx.chat.notify(
        origin.address,
        origin.user,
        `There is no lab \`${verbatim(named)}\`. Say \`lab list\` to see the labs.`,
      );
      return undefined;
    }
  } else {
    const here = (await deps.registry.list()).filter(
      (r) => r.address.platform === origin.address.platform && r.address.channel === origin.address.channel,
    );
    if (here.length !== 1) {
      const which =
        here.length === 0
          ? "This channel has no lab"
          : `This channel has ${here.length} labs (${here.map((r) => verbatim(r.name)).join(", ")})`;
      await ctx.chat.notify(
        origin.address,
        origin.user,
        `${which}: name one with \`--lab NAME\`, e.g. \`${options.usage}\`.`,
      );
      return undefined;
    }
    record = here[0];
  }
  if (record && options.needReady && record.state !== "ready") {
    await ctx.chat.notify(
      origin.address,
      origin.user,
      `Lab \`${verbatim(record.name)}\` is ${record.state}; this works once it is ready. Say \`lab status ${verbatim(record.name)}\` to see why.`,
    );
    return undefined;
  }
  return record;
}
