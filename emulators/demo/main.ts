import { parseArgs } from "node:util";
import { computeFromFlags } from "../azure/compute.ts";
import { conversationText, runScript, startDemo } from "./demo.ts";
import { RedisUnavailableError } from "./redis.ts";

/**
 * npm run demo [-- --script "lab create team-a; secret rotate color orange; lab destroy team-a --yes"]
 *              [--time-scale N] [--port P]
 */
const USAGE = `Usage: npm run demo [-- --script "CMD; CMD; …"] [--time-scale N] [--port P] [--quota NAME=N]… [--restrict-size SIZE]…
  (no options)   start the emulated world and the bot, and print the URL of the channel page
  --script       run the commands one after the other, print the conversation, exit 0 if all ended well
  --time-scale   how much faster than Azure the world runs (default 10: a lab in well under a minute)
  --port         port of the channel page (default: a free one)
  --quota        a compute quota by Azure usage name, e.g. cores=10 (repeatable; default a new pay-as-you-go subscription's)
  --restrict-size  a VM size the subscription may not use, e.g. Standard_B2s (repeatable)`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

let values: {
  script?: string | undefined;
  "time-scale"?: string | undefined;
  port?: string | undefined;
  quota?: string[] | undefined;
  "restrict-size"?: string[] | undefined;
  help?: boolean | undefined;
};
try {
  ({ values } = parseArgs({
    options: {
      script: { type: "string" },
      "time-scale": { type: "string" },
      port: { type: "string" },
      quota: { type: "string", multiple: true },
      "restrict-size": { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  }));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const timeScale = values["time-scale"] === undefined ? 10 : Number(values["time-scale"]);
if (!(timeScale >= 1 && timeScale <= 10_000)) fail("--time-scale must be a number from 1 to 10000");
const port = values.port === undefined ? undefined : Number(values.port);
if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536))
  fail("--port must be a TCP port");
const script = values.script
  ?.split(/[;\n]/)
  .map((c) => c.trim())
  .filter((c) => c !== "");
if (values.script !== undefined && (!script || script.length === 0))
  fail("--script needs at least one command");

let compute: ReturnType<typeof computeFromFlags>;
try {
  compute = computeFromFlags(values.quota, values["restrict-size"]);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}

process.stdout.write("Starting the emulated world (Azure, AKS, Key Vault, Slack, Teams) and the bot…\n");
let demo: Awaited<ReturnType<typeof startDemo>>;
try {
  demo = await startDemo({
    timeScale,
    compute,
    page: script === undefined,
    ...(port !== undefined ? { pagePort: port } : {}),
    ...(process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {}),
  });
} catch (error) {
  if (error instanceof RedisUnavailableError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

let stopping: Promise<void> | undefined;
const stop = (code: number) => {
  stopping ??= demo.stop().then(() => process.exit(code));
  return stopping;
};
process.once("SIGINT", () => void stop(0));
process.once("SIGTERM", () => void stop(0));

process.stdout.write(
  `Redis: ${demo.redis.kind === "private" ? "a private redis-server" : "REDIS_URL"} at ${demo.redis.url}\n` +
    `Bot: pid ${demo.botPid ?? "?"} at ${demo.botUrl}, log ${demo.botLogFile}\n`,
);
if (script !== undefined) {
  const steps = await runScript(demo, script, { onProgress: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`\n── the channel, as you see it ──\n${conversationText(demo)}\n\n`);
  for (const step of steps)
    process.stdout.write(`${step.ok ? "ok  " : "FAIL"} ${step.command} (${step.state})\n`);
  const ok = steps.every((s) => s.ok);
  process.stdout.write(ok ? "All commands ended well.\n" : "Some commands did not end well.\n");
  await stop(ok ? 0 : 1);
} else {
  process.stdout.write(
    `\nOpen ${demo.pageUrl} — an emulated Slack channel with labops in it.\n` +
      `Type /lab create team-a, watch the card and its thread, then /secret rotate color orange --lab team-a.\n` +
      "Ctrl-C stops everything.\n",
  );
}
