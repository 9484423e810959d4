import { describeCommand } from "../../src/commands/describe.ts";
import type { ThreadRef } from "../../src/ports/chat.ts";
import type { CommandProcessor } from "./context.ts";

/**
 * PLACEHOLDER STEP (foundation issue): stands in for the lab workflows, which
 * replace it command by command. It proves the path chat -> queue -> worker ->
 * chat: opens a thread, runs one named step, and replies in the thread.
 */
export const placeholderProcessor: CommandProcessor = async ({
  envelope,
  chat,
  saved,
  checkpoint,
  logger,
}) => {
  const title = describeCommand(envelope.command);
  const footer = `ref ${envelope.correlationId}`;
  let thread = saved.thread as ThreadRef | undefined;
  if (thread === undefined) {
    thread = await chat.openThread(envelope.origin.address, {
      title,
      status: "running",
      steps: [{ name: "placeholder", label: "Placeholder step", state: "running" }],
      footer,
    });
    // Saved before anything else so a retried job updates this thread instead of opening another.
    await checkpoint({ thread });
  }
  logger.info({ step: "placeholder" }, "step.finished");
  await chat.updateCard(thread, {
    title,
    status: "succeeded",
    steps: [{ name: "placeholder", label: "Placeholder step", state: "done" }],
    footer,
  });
  if (saved.replied !== true) {
    await chat.reply(
      thread,
      `Placeholder step done for \`${title}\`. The lab workflows will do the real work here.`,
    );
    await checkpoint({ replied: true });
  }
};
