import type { ChildProcess } from "node:child_process";

/**
 * The demo's child processes (the bot, a private redis-server). They run in
 * process groups of their own, so that a Ctrl-C in the terminal reaches only
 * the demo, which stops them in order; whatever is still running when the
 * demo exits, for any reason, a crash included, is killed then.
 */
const children = new Set<ChildProcess>();
let hooked = false;

export function track(child: ChildProcess): ChildProcess {
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    });
  }
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}
