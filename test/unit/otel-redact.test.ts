import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { inMemoryTracing } from "../../adapters/otel/memory.ts";
import { isSecretKey, safeAttributes, scrubText } from "../../adapters/otel/redact.ts";
import { ExternalError } from "../../src/errors.ts";
import { SecretValue } from "../../src/secret-value.ts";
import { findCanary } from "../helpers/sinks.ts";

describe("attribute keys that may hold a secret", () => {
  it.each([
    "value",
    "secret",
    "token",
    "password",
    "authorization",
    "labops.secret.value",
    "slack.bot_token",
    "teams.appPassword",
    "azure.clientSecret",
    "http.request.header.authorization",
    "http.request.header.x-api-key",
    "http.request.header.cookie",
    "x-slack-signature",
    "sealedValue",
    "client_assertion",
    "accessToken",
  ])("drops %s", (key) => {
    expect(isSecretKey(key)).toBe(true);
  });

  it.each([
    "labops.secret.name",
    "labops.secret.version",
    "secretName",
    "secret_version",
    "labops.lab",
    "labops.command.kind",
    "http.response.status_code",
    "url.full",
    "error.type",
    "exception.message",
    "token_count",
  ])("keeps %s", (key) => {
    expect(isSecretKey(key)).toBe(false);
  });
});

describe("scrubbing strings", () => {
  it.each([
    ["Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", "Bearer [redacted]"],
    ["token xoxb-1234567890-abcdefghij was refused", "token [redacted] was refused"],
    ["app token xapp-1-A0123-456789-abcdef", "app token [redacted]"],
    ["redis://:hunter2hunter2@redis:6379/0", "redis://:[redacted]@redis:6379/0"],
    [
      "https://vault.example/secrets/color?api-version=7.5&sig=abc%2Bdef&se=2026-01-01",
      "https://vault.example/secrets/color?api-version=7.5&sig=[redacted]&se=[redacted]",
    ],
    ["POST body client_secret=s3cr3t&grant_type=x", "POST body client_secret=s3cr3t&grant_type=x"],
    ["?client_secret=s3cr3t&grant_type=x", "?client_secret=[redacted]&grant_type=x"],
  ])("%s", (text, expected) => {
    expect(scrubText(text)).toContain(expected);
  });

  it("leaves ordinary text alone", () => {
    const text = "ensure-cluster: Microsoft.ContainerService/managedClusters 409 Conflict (retry 2)";
    expect(scrubText(text)).toBe(text);
  });
});

describe("safeAttributes", () => {
  it("drops SecretValue instances and lists holding one, secret keys, objects; scrubs strings", () => {
    const secret = new SecretValue("orange");
    const out = safeAttributes({
      "labops.secret.name": "color",
      "labops.thing": secret as unknown as string,
      "labops.list": ["a", secret] as unknown as string[],
      "labops.numbers": [1, 2],
      "labops.object": { nested: true } as unknown as string,
      "labops.url": "https://x.example/?token=abc",
      password: "hunter2",
      "labops.skipped": undefined,
      "labops.ok": true,
    });
    expect(out).toEqual({
      "labops.secret.name": "color",
      "labops.numbers": [1, 2],
      "labops.url": "https://x.example/?token=[redacted]",
      "labops.ok": true,
    });
  });
});

describe("spans leave the process without a secret", () => {
  it("whatever the core or an SDK put in attributes, events, errors, links and status", async () => {
    const canary = `canary-${randomBytes(12).toString("hex")}`;
    const { tracing, spans } = inMemoryTracing();
    const span = tracing.startSpan("labops.secret.write", {
      attributes: {
        "labops.secret.name": "color",
        value: canary,
        "labops.value": new SecretValue(canary) as never,
      },
    });
    span.setAttributes({
      "http.request.header.authorization": `Bearer ${canary}`,
      "url.full": `https://v/?sig=${canary}`,
    });
    span.addEvent("retry", { token: canary, "labops.note": `xoxb-${canary}` });
    span.recordError(new ExternalError("azure", "Forbidden", `denied for Bearer ${canary}`));
    span.setStatus("error", `redis://:${canary}@host`);
    span.end();
    const child = tracing.startSpan("labops.child", { parent: span.ref, links: [span.ref] });
    child.end();

    const exported = spans();
    expect(exported).toHaveLength(2);
    const text = JSON.stringify(
      exported.map((s) => ({ name: s.name, a: s.attributes, e: s.events, l: s.links, st: s.status })),
    );
    expect(findCanary(text, canary)).toEqual([]);
    const [write] = exported;
    expect(write?.attributes["labops.secret.name"]).toBe("color");
    expect(write?.attributes["error.type"]).toBe("Forbidden");
    expect(write?.status.code).toBe(2);
    expect(write?.events.map((e) => e.name)).toEqual(["retry", "exception"]);
    await tracing.shutdown();
  });
});

describe("spans with nothing to redact", () => {
  it("are recorded and exported as they are, and a span with something to redact still is not", async () => {
    const { tracing, spans } = inMemoryTracing();
    const attributes = {
      "labops.lab": "team-a",
      "labops.count": 2,
      "labops.ok": true,
      "labops.none": undefined,
    };
    tracing.startSpan("labops.plain", { attributes }).end();
    const dirty = tracing.startSpan("labops.dirty", { attributes: { "labops.lab": "team-a" } });
    dirty.setAttributes({ "labops.note": "Authorization: Bearer abcdefghijklmnop", "labops.secret": "x" });
    dirty.end();
    const [plain, redacted] = spans();
    expect(plain?.attributes).toEqual({ "labops.lab": "team-a", "labops.count": 2, "labops.ok": true });
    expect(redacted?.attributes).toEqual({
      "labops.lab": "team-a",
      "labops.note": "Authorization: Bearer [redacted]",
    });
  });
});
