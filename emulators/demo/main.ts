import { parseArgs } from "node:util";
import { computeFromFlags } from "../azure/compute.ts";
import { conversationText, type Demo, startDemo } from "./demo.ts";
import { RedisUnavailableError } from "./redis.ts";
import { runScript, scriptSummary } from "./script.ts";

/**
 * npm run demo [-- --script "lab create team-a; secret rotate color orange; lab destroy team-a --yes"]
 *              [--time-scale N] [--port P]
 */
const USAGE = `Usage: npm run demo -- [--script "CMD; CMD; …"] [--time-scale N] [--port P] [--quota NAME=N]… [--restrict-size SIZE]…
  (no options)   start the emulated world and the bot, and print the URL of the channel page
  --script       run the commands one after the other, print the conversation, exit 0 if all ended well
  --time-scale   how much faster than Azure the world runs (default 10: a lab in well under a minute)
  --port         port of the channel page (default: a free one)
  --quota        a compute quota by Azure usage name, e.g. cores=10 (repeatable; default a new pay-as-you-go subscription's)
  --restrict-size  a VM size the subscription may not use, e.g. Standard_B2s (repeatable)
The -- after "npm run demo" hands the options to the demo; without it npm keeps them for itself.`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

// `npm run demo --time-scale 5` (no --): npm takes --time-scale as its own setting (npm_config_time_scale)
// and passes the 5 on as a stray argument. (npm 11 even expands --script to its --script-shell and
// fails to spawn "lab list" before anything here runs; later npms hand it over like the others.)
const takenByNpm = ["script", "time_scale", "port"].filter(
  (k) => process.env[`npm_config_${k}`] !== undefined,
);
let values: {
  script?: string | undefined;
  "time-scale"?: string | undefined;
  port?: string | undefined;
  quota?: string[] | undefined;
  "restrict-size"?: string[] | undefined;
  help?: boolean | undefined;
};
let positionals: string[];
try {
  ({ values, positionals } = parseArgs({
    options: {
      script: { type: "string" },
      "time-scale": { type: "string" },
      port: { type: "string" },
      quota: { type: "string", multiple: true },
      "restrict-size": { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  }));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (process.env.npm_lifecycle_event === "demo" && (takenByNpm.length > 0 || positionals.length > 0)) {
  const options = takenByNpm.map((k) => `--${k.replace("_", "-")}`).join(", ") || "the options";
  fail(
    `npm kept ${options} for itself: add -- after "npm run demo", e.g. npm run demo -- --script "lab list"`,
  );
}
if (positionals.length > 0) fail(`Unexpected argument: ${positionals[0]}`);
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

const out = (text: string) => process.stdout.write(`${text}\n`);

// Ctrl-C while starting or running: stop in order, saying what is awaited; a second one forces.
let demo: Demo | undefined;
let stopping: Promise<void> | undefined;
let interrupted = 0;
const stop = (code: number) => {
  stopping ??= (demo?.stop() ?? Promise.resolve()).then(() => process.exit(code));
  return stopping;
};
const onSignal = (signal: NodeJS.Signals) => {
  interrupted += 1;
  if (interrupted > 1) {
    out("Forcing: the bot is killed mid-step; the emulated world goes with it.");
    demo?.force();
    setTimeout(() => process.exit(130), 5_000).unref();
    return;
  }
  const running = demo?.runningSteps() ?? [];
  const more =
    running.length > 1 ? ` (and ${running.length - 1} more step${running.length > 2 ? "s" : ""})` : "";
  const waiting = running[0] ? ` waiting for ${running[0]}${more} to finish` : demo ? "" : " once started";
  out(`\nStopping…${waiting} (${signal === "SIGINT" ? "Ctrl-C" : signal} again to force)`);
  if (demo) void stop(0);
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

out("Starting the emulated world (Azure, AKS, Key Vault, Slack, Teams) and the bot…");
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
if (interrupted > 0) await stop(0);

out(
  demo.redis.kind === "private"
    ? `Redis: a private redis-server at ${demo.redis.url} (pid ${demo.redis.pid ?? "?"}), gone at exit`
    : `Redis: REDIS_URL at ${demo.redis.url}, keys under ${demo.redisPrefix}: (removed at exit)`,
);
out(`Bot: pid ${demo.botPid ?? "?"} at ${demo.botUrl}, log ${demo.botLogFile} (removed at exit)`);
out(`Demo: pid ${process.pid}`);
out(
  `The world runs ${timeScale}× faster than Azure: a minute of Azure takes ${Number((60 / timeScale).toFixed(1))} s here.`,
);
out("Cards give every time as it passes here, with Azure's in brackets.");
if (script !== undefined) {
  const steps = await runScript(demo, script, { onProgress: out });
  out(`\n── the channel, as you see it ──\n${conversationText(demo)}\n`);
  out("── summary ──");
  for (const line of scriptSummary(steps)) out(line);
  await stop(steps.every((s) => s.ok) ? 0 : 1);
} else {
  out(
    `\nOpen ${demo.pageUrl} — an emulated Slack channel (and a Teams one) with labops in it.\n` +
      "Type /lab create team-a, watch the card and its thread, open podinfo from the sidebar,\n" +
      "then /secret rotate color orange --lab team-a and watch the page turn orange.\n" +
      "Ctrl-C stops everything.",
  );
}
