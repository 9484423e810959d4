import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisAuditLog } from "../../adapters/redis/audit.ts";
import { RedisLabRegistry } from "../../adapters/redis/registry.ts";
import { createChat } from "../../app/main.ts";
import {
  blockActionsPayload,
  SlackRequestClient,
  viewSubmissionPayload,
} from "../../emulators/slack/index.ts";
import type { WireEnvelope } from "../../src/commands/envelope.ts";
import { createLogger } from "../../src/log.ts";
import { SLACK_SIGNING_SECRET, startWorld, type World } from "../helpers/chat-world.ts";
import { teamsDriver } from "../helpers/drivers.ts";
import { REDIS_URL, waitFor } from "../helpers/env.ts";
import { labRecord } from "../helpers/lab-record.ts";

/**
 * Signed, well-formed presses and forms whose data the client made up: what a
 * button or form sends is read by the core (src/commands/actions.ts) on both
 * platforms, so a value of the wrong type, a name outside its pattern or a
 * correlation id of the client's own never reaches a job or the audit trail.
 */
describe("forged button presses and forms through the real adapters", () => {
  let w: World;
  let redis: Redis;
  let slack: SlackRequestClient;
  beforeAll(async () => {
    w = await startWorld();
    redis = new Redis(REDIS_URL);
    slack = new SlackRequestClient(`http://127.0.0.1:${w.bot.port}/slack/events`, SLACK_SIGNING_SECRET);
  });
  afterAll(async () => {
    redis?.disconnect();
    await w?.close();
  });

  describe("Slack", () => {
    const channel = "C0FORGED";
    const press = async (actionId: string, value: unknown) => {
      const payload = blockActionsPayload({
        team: "T0001",
        user: "U0ADA",
        channel,
        messageTs: "1700000000.000100",
        ephemeral: false,
        actionId,
        triggerId: w.slack.workspace.issueTrigger("U0ADA"),
        responseUrl: w.slack.workspace.issueResponseUrl(w.slack.url, { channel, user: "U0ADA" }),
      });
      (payload.actions as Array<Record<string, unknown>>)[0] = {
        ...(payload.actions as Array<Record<string, unknown>>)[0],
        value,
      };
      return slack.interactive(payload);
    };
    const toldAda = () =>
      w.slack
        .as("U0ADA")
        .conversation(channel)
        .filter((m) => m.ephemeral)
        .map((m) => m.text);

    it("answers a button value of the wrong type as malformed, and queues nothing", async () => {
      const before = await w.jobCount();
      for (const value of [42, { lab: "team-a" }, ["team-a"]]) {
        expect((await press("lab.retry", value)).status).toBe(200);
      }
      await waitFor(
        () => toldAda().filter((t) => /malformed/.test(t)).length === 3 || undefined,
        "the answers",
      );
      expect(toldAda().join("\n")).not.toMatch(/unreachable/);
      expect(await w.jobCount()).toBe(before);
    });

    it("refuses a lab name outside its pattern, and never repeats it", async () => {
      const before = await w.jobCount();
      const names = ["Zz-UPPER", "x", "../etc", "a".repeat(300), "<!channel> [login](https://evil.example)"];
      for (const name of names) expect((await press("lab.extend", name)).status).toBe(200);
      await waitFor(
        () => toldAda().filter((t) => /names no valid lab/.test(t)).length === names.length || undefined,
        "the refusals",
      );
      const told = toldAda().join("\n");
      for (const part of ["Zz-UPPER", "../etc", "<!channel>", "evil.example", "aaaaaaaaaa"])
        expect(told).not.toContain(part);
      expect(await w.jobCount()).toBe(before);
    });

    it("refuses a rotate form whose metadata names no valid secret or channel", async () => {
      // A lab of Ada's here: a form naming a bad secret would otherwise be taken.
      await new RedisLabRegistry(w.redis, w.prefix).create(
        labRecord(
          "forged-s",
          { platform: "slack", id: "U0ADA" },
          { platform: "slack", tenant: "T0001", channel },
        ),
      );
      const before = await w.jobCount();
      // As the modal was once opened: with a workspace and a correlation id, which are no longer taken from it.
      const was = { team: "T0001", correlationId: "c-000000000000" };
      const metas = [
        JSON.stringify({ ...was, secret: "../../keys/x", channel }),
        JSON.stringify({ ...was, secret: 42, channel }),
        JSON.stringify({ ...was, secret: "color", lab: "Team A", channel }),
        JSON.stringify({ ...was, secret: "color", channel: "<!channel>" }),
        "[]",
        "not json",
      ];
      for (const [i, meta] of metas.entries()) {
        const res = await slack.interactive(
          viewSubmissionPayload({
            team: "T0001",
            user: "U0ADA",
            triggerId: w.slack.workspace.issueTrigger("U0ADA"),
            view: {
              callback_id: "secret.rotate",
              private_metadata: meta,
              blocks: [
                {
                  type: "input",
                  block_id: "value",
                  element: { type: "plain_text_input", action_id: "value" },
                },
              ],
            },
            viewId: `V0FORGED${i}`,
            hash: "h",
            values: { value: "orange" },
          }),
        );
        expect(res.status, meta).toBe(200);
        expect(res.json(), meta).toMatchObject({ response_action: "errors" });
        expect(res.body).not.toContain("keys/x");
      }
      expect(await w.jobCount()).toBe(before);
    });

    it("refuses a rotate modal whose metadata was changed after labops opened it (issue 14, finding 5)", async () => {
      const before = await w.jobCount();
      const ada = w.slack.as("U0ADA", "ada");
      await ada.slash("/secret", "rotate color --lab forged-s", { channel });
      const view = await waitFor(() => ada.openViews().at(-1), "the rotate modal");
      const meta = JSON.parse(String(view.view.private_metadata)) as Record<string, unknown>;
      expect(meta.sig).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const submit = (changed: Record<string, unknown>, i: number) =>
        slack.interactive(
          viewSubmissionPayload({
            team: "T0001",
            user: "U0ADA",
            triggerId: w.slack.workspace.issueTrigger("U0ADA"),
            view: {
              callback_id: "secret.rotate",
              private_metadata: JSON.stringify({ ...meta, ...changed }),
              blocks: [
                {
                  type: "input",
                  block_id: "value",
                  element: { type: "plain_text_input", action_id: "value" },
                },
              ],
            },
            viewId: `V0RETAG${i}`,
            hash: "h",
            values: { value: "orange" },
          }),
        );
      for (const [i, changed] of [
        { secret: "db-connection-string" },
        { create: true },
        { sig: undefined },
        { sig: "A".repeat(43) },
      ].entries()) {
        const res = await submit(changed, i);
        expect(res.json(), JSON.stringify(changed)).toMatchObject({
          response_action: "errors",
          errors: { value: expect.stringMatching(/malformed/) },
        });
      }
      // As opened, the form is taken.
      expect((await submit({}, 9)).status).toBe(200);
      await waitFor(async () => (await w.jobCount()) === before + 1 || undefined, "the rotate job");
    });
  });

  describe("Teams", () => {
    it("refuses a forged lab name, and makes its own correlation id for a valid press", async () => {
      const chat = teamsDriver(w, "forged");
      const lab = "forged-t";
      await chat.say("ada", "help");
      await new RedisLabRegistry(w.redis, w.prefix).create(
        labRecord(lab, { platform: "teams", id: "aad-ada", name: "Ada" }, chat.address, "failed"),
      );
      const { router } = await createChat(w.bot.config, createLogger({ level: "silent" }), redis);
      await router.openThread(chat.address, {
        title: `Lab ${lab}: create failed`,
        status: "failed",
        actions: [{ kind: "button", id: "lab.retry", label: "Retry", value: lab }],
      });
      const card = await waitFor(
        () =>
          w.teams.tenant
            .conversation(chat.address.channel)
            .find((m) => m.from.role === "bot" && JSON.stringify(m.attachments).includes("lab.retry")),
        "the card",
      );
      const ada = w.teams.as({ aadObjectId: "aad-ada", name: "Ada" });
      const before = await w.jobCount();
      for (const value of ["Zz-UPPER", "", "a".repeat(700_000), 42]) {
        const res = await ada.execute(structuredClone(card), "lab.retry", { data: { value } });
        expect(res.status).toBe(200);
        expect(String(res.body?.value)).toMatch(/names no valid lab|malformed/);
        expect(String(res.body?.value)).not.toContain("Zz-UPPER");
      }
      expect(await w.jobCount()).toBe(before);

      const forged = "c-[click](https://evil.example)";
      const res = await ada.execute(structuredClone(card), "lab.retry", { data: { correlationId: forged } });
      expect(String(res.body?.value)).toMatch(/Queued/);
      expect(String(res.body?.value)).not.toContain("evil.example");
      const job = await waitFor(
        async () =>
          (await w.queue.getJobs(["waiting", "active", "completed", "failed"]))
            .map((j) => j.data as WireEnvelope)
            .find((d) => d.command.kind === "lab.create" && d.command.lab === lab),
        "the retry job",
      );
      expect(job.correlationId).toMatch(/^c-[0-9a-f]{12}$/);
      const audit = await new RedisAuditLog(w.redis, w.prefix).recent({ limit: 200 });
      expect(JSON.stringify(audit)).not.toContain("evil.example");
    });

    it("refuses a rotate form whose data was changed, or pressed by someone else (issue 14, finding 5)", async () => {
      const chat = teamsDriver(w, "forged-form");
      await chat.say("ada", "help");
      await new RedisLabRegistry(w.redis, w.prefix).create(
        labRecord("forged-f", { platform: "teams", id: "aad-ada", name: "Ada" }, chat.address),
      );
      await chat.say("ada", "secret rotate color --lab forged-f");
      const form = await waitFor(
        () =>
          w.teams.tenant
            .conversation(chat.address.channel)
            .flatMap((m) => m.replies)
            .find((m) => JSON.stringify(m.attachments).includes("secret.rotate.submit")),
        "the rotate form",
      );
      const before = await w.jobCount();
      const ada = w.teams.as({ aadObjectId: "aad-ada", name: "Ada" });
      for (const data of [{ secret: "db-connection-string" }, { lab: "forged-s" }, { sig: "x" }]) {
        const res = await ada.execute(structuredClone(form), "secret.rotate.submit", {
          data: { ...data, value: "orange" },
        });
        expect(String(res.body?.value), JSON.stringify(data)).toMatch(/malformed/);
      }
      const bob = w.teams.as({ aadObjectId: "aad-bob", name: "Bob" });
      const pressed = await bob.execute(structuredClone(form), "secret.rotate.submit", {
        data: { value: "x" },
      });
      expect(String(pressed.body?.value)).toMatch(/malformed/);
      expect(await w.jobCount()).toBe(before);
      const taken = await ada.execute(structuredClone(form), "secret.rotate.submit", {
        data: { value: "orange" },
      });
      expect(JSON.stringify(taken.body)).toMatch(/Queued/);
      expect(await w.jobCount()).toBe(before + 1);
    });
  });
});
