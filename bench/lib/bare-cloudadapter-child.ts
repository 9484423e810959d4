import { CloudAdapter } from "botbuilder";
import express from "express";
import { teamsAuthentication } from "../../adapters/teams/adapter.ts";
import { systemClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { testEnv } from "../../test/helpers/env.ts";
import { serveBareApp } from "./ack-child.ts";

/**
 * The bare app of the Teams acknowledgement bench, in a process of its own
 * (lib/ack-child.ts): botbuilder's CloudAdapter on express with the bot's
 * authentication settings (teamsAuthentication over the configuration the
 * bot loads from the same BENCH_TEAMS_ENV: the parent's emulator's OpenID
 * metadata, token issuer, login authority and CA), so it validates the same
 * emulator-issued JWTs, and a turn that does nothing. Answers "cpu", "gc",
 * "gc_ms" and "close".
 */
const teamsEnv = JSON.parse(process.env.BENCH_TEAMS_ENV ?? "{}") as Record<string, string>;
const config = loadConfig(
  testEnv({ ...teamsEnv, SLACK_SIGNING_SECRET: undefined, SLACK_BOT_TOKEN: undefined }),
);
if (!config.teams) throw new Error("bare app: Teams is not configured (BENCH_TEAMS_ENV)");
const adapter = new CloudAdapter(teamsAuthentication(config.teams, config.caPem, systemClock()));
const app = express();
app.use(express.json());
app.post("/api/messages", (req, res) => {
  void adapter.process(req, res, async () => undefined);
});
await serveBareApp(app);
