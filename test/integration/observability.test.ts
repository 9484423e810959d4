import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Running, startLabops } from "../../app/main.ts";
import { SlackRequestClient } from "../../emulators/slack/client.ts";
import { type SlackWebApiEmulator, startSlackWebApi } from "../../emulators/slack/web-api.ts";
import { createLogger } from "../../src/log.ts";
import { TEST_BOT_TOKEN, TEST_SIGNING_SECRET, testEnv } from "../helpers/env.ts";

describe("observability", () => {
  let slackApi: SlackWebApiEmulator;
  let web: Running;
  let worker: Running;
  const adminToken = "operators-only-token-0123456789";
  const admin = { authorization: `Bearer ${adminToken}` };
  const wrong = { authorization: "Bearer wrong" };

  beforeAll(async () => {
    slackApi = await startSlackWebApi({ botToken: TEST_BOT_TOKEN });
    const env = testEnv({ SLACK_API_URL: slackApi.url, LABOPS_ADMIN_TOKEN: adminToken });
    web = await startLabops({
      env: { ...env, LABOPS_ROLE: "web" },
      logger: createLogger({ level: "silent" }),
      host: "127.0.0.1",
    });
    worker = await startLabops({
      env: { ...env, LABOPS_ROLE: "worker" },
      logger: createLogger({ level: "silent" }),
      host: "127.0.0.1",
      processors: "placeholder",
    });
  });
  afterAll(async () => {
    await web?.stop();
    await worker?.stop();
    await slackApi?.close();
  });

  it("serves Prometheus metrics with commands, jobs and queue depth", async () => {
    const client = new SlackRequestClient(`http://127.0.0.1:${web.port}/slack/events`, TEST_SIGNING_SECRET);
    await client.slashCommand({ command: "/lab", text: "list", channel: "C0OBS" });
    await client.slashCommand({ command: "/lab", text: "create Bad_Name", channel: "C0OBS" });
    // Issue 14, finding 9: /metrics is behind the admin token on the public port.
    expect((await fetch(`http://127.0.0.1:${web.port}/metrics`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${web.port}/metrics`, { headers: wrong })).status).toBe(401);
    const res = await fetch(`http://127.0.0.1:${web.port}/metrics`, { headers: admin });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/labops_commands_total\{platform="slack",kind="lab.list",outcome="queued"\} 1/);
    expect(text).toMatch(/labops_commands_total\{platform="slack",kind="[^"]*",outcome="rejected"\} 1/);
    expect(text).toMatch(/labops_queue_jobs\{queue="commands",state="[a-z]+"\} \d+/);
    expect(text).toContain("labops_process_cpu_seconds_total");
  });

  it("answers health, readiness and metrics on the worker role too", async () => {
    expect((await fetch(`http://127.0.0.1:${worker.port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${worker.port}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${worker.port}/metrics`, { headers: admin })).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${worker.port}/metrics`)).status).toBe(401);
    // Chat endpoints belong to the web role only.
    expect((await fetch(`http://127.0.0.1:${worker.port}/slack/events`, { method: "POST" })).status).toBe(
      404,
    );
  });

  it("puts Bull Board behind the admin token", async () => {
    const base = `http://127.0.0.1:${web.port}/admin/queues`;
    expect((await fetch(base)).status).toBe(401);
    expect((await fetch(base, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const ok = await fetch(base, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/<html/i);
    const basic = Buffer.from(`ops:${adminToken}`).toString("base64");
    expect((await fetch(`${base}/api/queues`, { headers: { authorization: `Basic ${basic}` } })).status).toBe(
      200,
    );
  });

  it("keeps Bull Board read-only: retry, clean, remove, add and pause are refused", async () => {
    const api = `http://127.0.0.1:${web.port}/admin/queues/api/queues`;
    const json = { ...admin, "content-type": "application/json" };
    for (const [method, path] of [
      ["PUT", "/commands/retry/failed"],
      ["PUT", "/commands/clean/completed"],
      ["PUT", "/commands/some-job/remove"],
      ["PUT", "/commands/some-job/retry/failed"],
      ["PUT", "/commands/empty"],
      ["PUT", "/commands/obliterate"],
      ["POST", "/commands/add"],
      ["PUT", "/pause"],
    ] as const) {
      const res = await fetch(`${api}${path}`, { method, headers: json, body: "{}" });
      expect([403, 405], `${method} ${path}`).toContain(res.status);
    }
    const queues = await (await fetch(api, { headers: admin })).json();
    expect(JSON.stringify(queues)).toMatch(/"readOnlyMode":true/);
    expect(JSON.stringify(queues)).not.toMatch(/"readOnlyMode":false/);
  });

  it("sends the usual security headers on every answer", async () => {
    const answers = [
      await fetch(`http://127.0.0.1:${web.port}/healthz`),
      await fetch(`http://127.0.0.1:${web.port}/readyz`),
      await fetch(`http://127.0.0.1:${web.port}/metrics`),
      await fetch(`http://127.0.0.1:${web.port}/metrics`, { headers: admin }),
      await fetch(`http://127.0.0.1:${web.port}/admin/queues`, { headers: admin }),
      await fetch(`http://127.0.0.1:${web.port}/admin/queues/api/queues`, { headers: admin }),
      await fetch(`http://127.0.0.1:${web.port}/no-such-path`),
      await fetch(`http://127.0.0.1:${web.port}/slack/events`, { method: "POST", body: "x" }),
      await fetch(`http://127.0.0.1:${worker.port}/healthz`),
    ];
    for (const res of answers) {
      const where = `${res.url} ${res.status}`;
      expect(res.headers.get("x-content-type-options"), where).toBe("nosniff");
      expect(res.headers.get("x-frame-options"), where).toBe("DENY");
      expect(res.headers.get("content-security-policy") ?? "", where).toContain("frame-ancestors 'none'");
      expect(res.headers.get("referrer-policy"), where).toBe("no-referrer");
      expect(res.headers.get("x-powered-by"), where).toBeNull();
    }
    for (const res of [answers[0], answers[1], answers[3], answers[5], answers[7]]) {
      expect(res?.headers.get("cache-control"), res?.url).toBe("no-store");
    }
  });
});
