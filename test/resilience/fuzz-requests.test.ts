import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisAuditLog } from "../../adapters/redis/audit.ts";
import {
  appMentionEvent,
  blockActionsPayload,
  FORM,
  interactiveBody,
  JSON_TYPE,
  slackSignature,
  slashCommandBody,
  viewSubmissionPayload,
} from "../../emulators/slack/index.ts";
import { newSigningKey, signJwt } from "../../emulators/teams/jwt.ts";
import type { WireEnvelope } from "../../src/commands/envelope.ts";
import { SLACK_SIGNING_SECRET, startWorld, TEAMS_TENANT, type World } from "../helpers/chat-world.ts";
import { scanKeys } from "../helpers/sinks.ts";

/** Fixed: a failure names its case, and the same 1000 requests come back on every run. */
const SEED = 90_210;
const SLACK_RUNS = 520;
const TEAMS_RUNS = 440;
/** Every id a request that must be refused carries, so its traces can be searched for afterwards. */
const FORGED = "fzforged";

interface Sent {
  status: number;
  body: string;
}

interface FuzzCase {
  platform: "slack" | "teams";
  what: string;
  /** A valid request sent twice: one job, and the second answered as a replay. */
  replay?: boolean;
  /** The start of the body, so a failure shows what was sent. */
  sample?: string;
  /** The request passes authentication (a good signature in the window, a good token). */
  authentic: boolean;
  /** Refused requests must get exactly this (401); others any answer below 500. */
  expectStatus?: number;
  send(): Promise<Sent>;
}

// ---------------------------------------------------------------- Slack ----

type Sig =
  | { kind: "valid" }
  | { kind: "secret"; secret: string }
  | { kind: "raw"; value: string }
  | { kind: "absent" };
type Stamp = { kind: "offset"; seconds: number } | { kind: "raw"; value: string } | { kind: "absent" };

interface SlackShape {
  what: string;
  body: Buffer;
  contentType: string | undefined;
  /** A delivery id the bot would record if it accepted the request. */
  tag: string;
}

const text = fc.string({ unit: "binary", maxLength: 120 });
const oddText = fc.oneof(
  text,
  fc.string({ unit: "grapheme", maxLength: 60 }),
  fc.constantFrom("", " ", "\u0000", "%", "%ZZ", "+", "&&&", "=", "\uFEFF", "\uD800", "a".repeat(3_000)),
);
/** Text no command starts with: the fuzz must not stumble onto a valid command by luck. */
const notACommand = oddText.map((t) => `~${t}`);

/** What a header can carry at all (fetch refuses control characters): printable ASCII. */
const headerText = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

let serial = 0;
const nextTag = (forged: boolean) => `${forged ? FORGED : "fz"}${(serial++).toString(36)}`;

function slackBodies(forged: boolean): fc.Arbitrary<SlackShape> {
  const shape = (what: string, body: string | Buffer, contentType: string | undefined, tag: string) => ({
    what,
    body: typeof body === "string" ? Buffer.from(body, "utf8") : body,
    contentType,
    tag,
  });
  return fc.oneof(
    // Well-formed Slack requests (slash command, button, modal, mention) with odd content.
    fc
      .record({ command: fc.constantFrom("/lab", "/secret", "/labops", "/other", ""), t: notACommand })
      .map(({ command, t }) => {
        const tag = nextTag(forged);
        return shape(
          `slash ${command}`,
          slashCommandBody({ command, text: t, channel: "C0FUZZ", user: "U0FUZZ", triggerId: tag }),
          FORM,
          tag,
        );
      }),
    fc
      .record({
        actionId: fc.constantFrom("destroy.confirm", "destroy.cancel", "retry", "unknown.action", ""),
        value: oddText,
      })
      .map(({ actionId, value }) => {
        const tag = nextTag(forged);
        const payload = blockActionsPayload({
          team: "T0001",
          user: "U0FUZZ",
          channel: "C0FUZZ",
          messageTs: "1.000001",
          ephemeral: false,
          actionId,
          value,
          triggerId: tag,
          responseUrl: "http://127.0.0.1:9/nowhere",
        });
        return shape(`block_actions ${actionId}`, interactiveBody(payload), FORM, tag);
      }),
    fc.record({ value: oddText, meta: fc.oneof(text, fc.json()) }).map(({ value, meta }) => {
      const tag = nextTag(forged);
      const payload = viewSubmissionPayload({
        team: "T0001",
        user: "U0FUZZ",
        triggerId: tag,
        view: {
          callback_id: "secret.rotate",
          private_metadata: meta,
          blocks: [
            { type: "input", block_id: "value", element: { type: "plain_text_input", action_id: "value" } },
          ],
        },
        viewId: tag,
        hash: "h",
        values: { value },
      });
      return shape("view_submission", interactiveBody(payload), FORM, tag);
    }),
    notACommand.map((t) => {
      const tag = nextTag(forged);
      const event = appMentionEvent({ team: "T0001", user: "U0FUZZ", channel: "C0FUZZ", text: t, ts: "2.0" });
      return shape("app_mention", JSON.stringify({ ...event, event_id: tag }), JSON_TYPE, tag);
    }),
    // Malformed bodies.
    fc
      .oneof(text, fc.string({ unit: "binary-ascii", maxLength: 300 }))
      .map((b) => shape("random form body", b, FORM, nextTag(forged))),
    fc
      .oneof(
        fc.json(),
        fc.json().map((j) => j.slice(0, Math.max(0, j.length - 1))),
        fc.constantFrom("{", "[", "null", '"x"', "1e999", "{}", "[]", '{"type":"block_actions"}'),
        fc.jsonValue().map((v) => JSON.stringify({ type: "block_actions", actions: v, user: v, team: v })),
        fc
          .jsonValue()
          .map((v) => JSON.stringify({ type: "view_submission", view: v, user: { id: "U0FUZZ" } })),
        fc.jsonValue().map((v) => JSON.stringify({ type: "shortcut", callback_id: v })),
      )
      .map((p) =>
        shape("broken interactivity payload", `payload=${encodeURIComponent(p)}`, FORM, nextTag(forged)),
      ),
    fc
      .oneof(
        fc.json(),
        fc.constantFrom(
          "{",
          "",
          "null",
          "[]",
          '{"type":"event_callback"}',
          '{"type":"event_callback","event":null}',
        ),
        fc.jsonValue().map((v) => JSON.stringify({ type: "event_callback", event: v, event_id: v })),
        text.map((c) => JSON.stringify({ type: "url_verification", challenge: c })),
      )
      .map((b) => shape("broken event JSON", b, JSON_TYPE, nextTag(forged))),
    fc
      .constantFrom(
        "command=/lab&text=%E0%A4%A&trigger_id=x",
        "command=%ZZ&text=list",
        "payload=%7B",
        "payload=&payload=%7B%7D",
        "command=/lab&command=/secret&text=list&text=destroy",
        "a=b;c=d",
        "=&=&=",
        "payload",
      )
      .map((b) => shape("bad form encoding", b, FORM, nextTag(forged))),
    // Odd encodings and content types around an otherwise good slash command.
    fc
      .record({
        encoding: fc.constantFrom<BufferEncoding>("utf16le", "latin1", "utf8"),
        bom: fc.boolean(),
        contentType: fc.constantFrom(
          FORM,
          `${FORM}; charset=utf-16`,
          `${FORM}; charset=ISO-8859-1`,
          `${FORM}; charset=x-unknown`,
          "text/plain",
          "application/xml",
          "multipart/form-data; boundary=zz",
          "application/json; charset=utf-32",
          undefined,
        ),
        t: notACommand,
      })
      .map(({ encoding, bom, contentType, t }) => {
        const tag = nextTag(forged);
        const form = slashCommandBody({ command: "/lab", text: `é ${t}`, channel: "C0FUZZ", triggerId: tag });
        const bytes = Buffer.from(form, encoding);
        return shape(
          `slash in ${encoding}${bom ? " with BOM" : ""} as ${contentType ?? "(no type)"}`,
          bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]) : bytes,
          contentType,
          tag,
        );
      }),
    fc
      .uint8Array({ maxLength: 400 })
      .map((bytes) => shape("random bytes", Buffer.from(bytes), FORM, nextTag(forged))),
    fc.constant(null).map(() => shape("empty body", "", FORM, nextTag(forged))),
    // Rare: bodies far beyond anything Slack sends.
    fc
      .integer({ min: 1, max: 3 })
      .map((mb) =>
        shape(`${mb} MB body`, `command=/lab&text=${"x".repeat(mb * 1024 * 1024)}`, FORM, nextTag(forged)),
      ),
  );
}

const goodStamp = fc.integer({ min: -240, max: 60 }).map((seconds): Stamp => ({ kind: "offset", seconds }));
const badStamp = fc.oneof(
  fc.integer({ min: 301, max: 10 * 365 * 86_400 }).map((s): Stamp => ({ kind: "offset", seconds: -s })),
  fc.integer({ min: 301, max: 10 * 365 * 86_400 }).map((s): Stamp => ({ kind: "offset", seconds: s })),
  fc
    .constantFrom("", "abc", "1e10", "-5", "0", "99999999999999999999", "12.5", "+1", "NaN", "0x10")
    .map((value): Stamp => ({ kind: "raw", value })),
  fc.constant<Stamp>({ kind: "absent" }),
);
const badSig = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }).map((secret): Sig => ({ kind: "secret", secret })),
  fc
    .oneof(
      fc.constantFrom("", "v0=", "v1=abc", "v0=zz", `v0=${"0".repeat(64)}`, "sha256=abc"),
      headerText(80),
    )
    .map((value): Sig => ({ kind: "raw", value })),
  fc.constant<Sig>({ kind: "absent" }),
);

function slackCases(w: World, url: string): fc.Arbitrary<FuzzCase> {
  const post = async (shape: SlackShape, sig: Sig, stamp: Stamp): Promise<Sent> => {
    const now = Math.floor(Date.now() / 1000);
    const ts =
      stamp.kind === "offset" ? String(now + stamp.seconds) : stamp.kind === "raw" ? stamp.value : undefined;
    const raw = shape.body.toString("utf8");
    const signature =
      sig.kind === "valid"
        ? slackSignature(SLACK_SIGNING_SECRET, Number(ts), raw)
        : sig.kind === "secret"
          ? slackSignature(sig.secret, Number(ts ?? now), raw)
          : sig.kind === "raw"
            ? sig.value
            : undefined;
    const headers: Record<string, string> = {};
    if (shape.contentType !== undefined) headers["content-type"] = shape.contentType;
    if (ts !== undefined) headers["x-slack-request-timestamp"] = ts;
    if (signature !== undefined) headers["x-slack-signature"] = signature;
    return send(url, headers, shape.body);
  };
  const refused = (shape: SlackShape, sig: Sig, stamp: Stamp, why: string): FuzzCase => ({
    platform: "slack",
    what: `slack ${why} (${JSON.stringify({ sig, stamp })}): ${shape.what}`,
    sample: sample(shape.body),
    authentic: false,
    expectStatus: 401,
    send: () => post(shape, sig, stamp),
  });
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(slackBodies(true), badSig, goodStamp)
        .map(([b, s, t]) => refused(b, s, t, "bad signature")),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(slackBodies(true), badStamp)
        .map(([b, t]) => refused(b, { kind: "valid" }, t, "stale, future or missing timestamp")),
    },
    {
      weight: 4,
      arbitrary: fc.tuple(slackBodies(false), goodStamp).map(
        ([b, t]): FuzzCase => ({
          platform: "slack",
          what: `slack signed: ${b.what}`,
          sample: sample(b.body),
          authentic: true,
          send: () => post(b, { kind: "valid" }, t),
        }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constant(null).map(
        (): FuzzCase => ({
          platform: "slack",
          replay: true,
          what: "slack replay of a valid command",
          authentic: true,
          async send() {
            return replayPair(async () => {
              const first = await w.slack.as("U0FUZZ", "fuzz").slash("/lab", "list", { channel: "C0FUZZ" });
              const again = await first.replay();
              return [
                first.status,
                again.status,
                `${JSON.stringify(again.body ?? "")} (first: ${JSON.stringify(first.body ?? "")})`,
              ];
            });
          },
        }),
      ),
    },
  );
}

// ---------------------------------------------------------------- Teams ----

type Auth =
  | { kind: "valid" }
  | {
      kind: "mint";
      why: string;
      forged?: boolean;
      expiresIn?: number;
      notBefore?: number;
      aud?: string;
      iss?: string;
      serviceUrl?: string;
    }
  | { kind: "raw"; value: string }
  | { kind: "foreign-key" }
  | { kind: "alg-none" }
  | { kind: "absent" };

const badAuth: fc.Arbitrary<Auth> = fc.oneof(
  fc.constantFrom<Auth>(
    { kind: "mint", why: "forged", forged: true },
    { kind: "mint", why: "expired", expiresIn: -600 },
    { kind: "mint", why: "not yet valid", notBefore: 3_600 },
    { kind: "mint", why: "wrong audience", aud: "00000000-0000-0000-0000-0000000bad00" },
    { kind: "mint", why: "wrong issuer", iss: "https://api.botframework.com" },
    { kind: "mint", why: "other serviceUrl", serviceUrl: "http://127.0.0.1:1/amer/" },
    { kind: "foreign-key" },
    { kind: "alg-none" },
    { kind: "absent" },
  ),
  fc
    .oneof(
      fc.constantFrom(
        "",
        "Bearer",
        "Bearer ",
        "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
        "Bearer not.a.jwt",
        "Bearer a.b.c",
        "Bearer ....",
      ),
      headerText(200).map((s) => `Bearer ${s}`),
      fc
        .tuple(fc.base64String(), fc.base64String(), fc.base64String())
        .map(([a, b, c]) => `Bearer ${a}.${b}.${c}`),
    )
    .map((value): Auth => ({ kind: "raw", value })),
);

interface TeamsShape {
  what: string;
  body: Buffer;
  contentType: string | undefined;
  /** A well-formed activity: a bad token on it must get 401. */
  wellFormed: boolean;
}

function teamsBodies(w: World, forged: boolean): fc.Arbitrary<TeamsShape> {
  const channel = w.teams.channel("fuzz");
  const activity = (overrides: Record<string, unknown>) => {
    const id = nextTag(forged);
    return {
      type: "message",
      id,
      channelId: "msteams",
      serviceUrl: w.teams.serviceUrl,
      timestamp: new Date().toISOString(),
      from: { id: "29:aad-fuzz", name: "Fuzz", aadObjectId: "aad-fuzz" },
      recipient: { id: "28:bot", name: "labops" },
      conversation: {
        isGroup: true,
        conversationType: "channel",
        tenantId: TEAMS_TENANT,
        id: `${channel};messageid=${id}`,
      },
      channelData: { channel: { id: channel }, tenant: { id: TEAMS_TENANT } },
      ...overrides,
    };
  };
  const json = (what: string, value: unknown, wellFormed: boolean): TeamsShape => ({
    what,
    body: Buffer.from(JSON.stringify(value), "utf8"),
    contentType: JSON_TYPE,
    wellFormed,
  });
  const raw = (what: string, body: string | Buffer, contentType: string | undefined): TeamsShape => ({
    what,
    body: typeof body === "string" ? Buffer.from(body, "utf8") : body,
    contentType,
    wellFormed: false,
  });
  return fc.oneof(
    notACommand.map((t) => json("message", activity({ text: t }), true)),
    fc
      .record({ name: fc.constantFrom("adaptiveCard/action", "task/fetch", "x"), value: fc.jsonValue() })
      .map(({ name, value }) => json(`invoke ${name}`, activity({ type: "invoke", name, value }), true)),
    fc
      .record({
        verb: fc.constantFrom("secret.rotate.submit", "destroy.confirm", "destroy.cancel", "nope"),
        data: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue(), { maxKeys: 4 }),
      })
      .map(({ verb, data }) =>
        json(
          `card action ${verb}`,
          activity({
            type: "invoke",
            name: "adaptiveCard/action",
            value: { action: { type: "Action.Execute", verb, data }, trigger: "manual" },
          }),
          true,
        ),
      ),
    fc
      .jsonValue()
      .map((v) =>
        json("conversationUpdate", activity({ type: "conversationUpdate", membersAdded: v }), true),
      ),
    // Activities with broken parts: the fields botbuilder and the bot read, replaced by anything.
    fc
      .record({
        field: fc.constantFrom(
          "from",
          "conversation",
          "channelData",
          "recipient",
          "text",
          "id",
          "entities",
          "value",
          "timestamp",
        ),
        value: fc.jsonValue(),
      })
      .map(({ field, value }) =>
        json(`message with ${field} broken`, activity({ [field]: value, text: "~x" }), true),
      ),
    fc.jsonValue().map((v) => json("any JSON", v, false)),
    fc.string({ maxLength: 20 }).map((type) => json("odd type", activity({ type }), true)),
    fc
      .constantFrom("{", "", "null", "[]", '"x"', '{"type":', "{}", '{"type":null}', "\uFEFF{}")
      .map((b) => raw("malformed JSON", b, JSON_TYPE)),
    fc
      .record({
        encoding: fc.constantFrom<BufferEncoding>("utf16le", "latin1"),
        contentType: fc.constantFrom(
          JSON_TYPE,
          `${JSON_TYPE}; charset=utf-16`,
          `${JSON_TYPE}; charset=x-unknown`,
          "text/plain",
          FORM,
          undefined,
        ),
        t: notACommand,
      })
      .map(({ encoding, contentType, t }) =>
        raw(
          `message in ${encoding} as ${contentType ?? "(no type)"}`,
          Buffer.from(JSON.stringify(activity({ text: `é ${t}` })), encoding),
          contentType,
        ),
      ),
    fc.uint8Array({ maxLength: 300 }).map((b) => raw("random bytes", Buffer.from(b), JSON_TYPE)),
    fc
      .integer({ min: 1, max: 3 })
      // Too large to be read at all (413 before any token is looked at).
      .map((mb) => json(`${mb} MB message`, activity({ text: "x".repeat(mb * 1024 * 1024) }), false)),
  );
}

function teamsCases(w: World, url: string): fc.Arbitrary<FuzzCase> {
  const foreignKey = newSigningKey({ kid: "fuzz-foreign" });
  const header = (auth: Auth): string | undefined => {
    const now = Math.floor(Date.now() / 1000);
    switch (auth.kind) {
      case "valid":
        return `Bearer ${w.teams.mintInbound()}`;
      case "mint": {
        const { kind: _k, why: _w, ...options } = auth;
        return `Bearer ${w.teams.mintInbound(options)}`;
      }
      case "raw":
        return auth.value;
      case "foreign-key":
        return `Bearer ${signJwt({ iss: w.teams.tokenIssuer, aud: w.teams.options.appId, serviceurl: w.teams.serviceUrl, nbf: now - 60, exp: now + 600 }, foreignKey)}`;
      case "alg-none": {
        const part = (v: object) => Buffer.from(JSON.stringify(v)).toString("base64url");
        return `Bearer ${part({ alg: "none", typ: "JWT" })}.${part({ iss: w.teams.tokenIssuer, aud: w.teams.options.appId, serviceurl: w.teams.serviceUrl, exp: now + 600 })}.`;
      }
      case "absent":
        return undefined;
    }
  };
  const post = (shape: TeamsShape, auth: Auth): Promise<Sent> => {
    const headers: Record<string, string> = {};
    if (shape.contentType !== undefined) headers["content-type"] = shape.contentType;
    const authorization = header(auth);
    if (authorization !== undefined) headers.authorization = authorization;
    return send(url, headers, shape.body);
  };
  const authName = (a: Auth) => (a.kind === "mint" ? a.why : a.kind === "raw" ? "garbage token" : a.kind);
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.tuple(teamsBodies(w, true), badAuth).map(
        ([b, a]): FuzzCase => ({
          platform: "teams",
          what: `teams ${authName(a)}: ${b.what}`,
          sample: sample(b.body),
          authentic: false,
          // A body that is not an activity may be refused as such (400) before its token is read.
          ...(b.wellFormed ? { expectStatus: 401 } : {}),
          send: () => post(b, a),
        }),
      ),
    },
    {
      weight: 4,
      arbitrary: teamsBodies(w, false).map(
        (b): FuzzCase => ({
          platform: "teams",
          what: `teams valid token: ${b.what}`,
          authentic: true,
          send: () => post(b, { kind: "valid" }),
        }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constant(null).map(
        (): FuzzCase => ({
          platform: "teams",
          replay: true,
          what: "teams redelivery of a valid command",
          authentic: true,
          async send() {
            return replayPair(async () => {
              const first = await w.teams
                .as({ aadObjectId: "aad-fuzz", name: "Fuzz" })
                .say(w.teams.channel("fuzz"), "lab list");
              const again = await first.replay();
              return [first.status, again.status, JSON.stringify(again.body ?? "")];
            });
          },
        }),
      ),
    },
  );
}

// ---------------------------------------------------------------- the run ----

const sample = (body: Buffer) => JSON.stringify(body.subarray(0, 300).toString("utf8"));

let requests = 0;

async function send(url: string, headers: Record<string, string>, body: Buffer): Promise<Sent> {
  requests += 1;
  // A socket hang-up or reset rejects here and fails the case: every request must be answered.
  const res = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(20_000) });
  return { status: res.status, body: await res.text() };
}

/**
 * A valid request and its exact replay, folded into one answer: 200 when
 * both were acknowledged (the replay as already received on Slack). That
 * the pair made exactly one job is counted over the whole run.
 */
async function replayPair(pair: () => Promise<[number, number, string]>): Promise<Sent> {
  requests += 2;
  const [first, again, body] = await pair();
  return { status: first === 200 && again === 200 ? 200 : 599, body: `${first} ${again} ${body}` };
}

/** Runs `work` over `items`, at most `limit` at a time, in order of start. */
async function inParallel<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: limit }, async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i] as T);
  });
  await Promise.all(lanes);
  return results;
}

/** What is wrong with the answer to one case; nothing when it is right. */
function verdict(c: FuzzCase, res: Sent): string[] {
  const where = `${c.what} ${c.sample ?? ""} -> ${res.status} ${res.body.slice(0, 200)}`;
  if (res.status === 0) return [`unanswered: ${where}`];
  // The Bot Framework's answer to an invoke a bot does not handle (Teams sends none it was not told of).
  const unhandledInvoke =
    res.status === 501 && /^teams valid token: invoke (?!adaptiveCard\/action)/.test(c.what);
  if (res.status >= 500 && !unhandledInvoke) return [`5xx: ${where}`];
  if (c.expectStatus !== undefined && res.status !== c.expectStatus)
    return [`not ${c.expectStatus}: ${where}`];
  if (!c.authentic && res.status < 400) return [`accepted: ${where}`];
  // A first answer of "try again" (its store too slow to answer in time, on a loaded machine) let go
  // of the delivery, so that its retry is served: the replay is then that retry, not a second run.
  const unserved = /first: .*(cannot take commands right now|could not queue)/.test(res.body);
  if (c.replay && c.platform === "slack" && !unserved && !/already received/.test(res.body))
    return [`replay not noticed: ${res.body.slice(0, 600)}`];
  return [];
}

/**
 * About a thousand requests from fast-check generators (seeded): Slack
 * requests to /slack/events with bad signatures, stale, future and
 * malformed timestamps, broken forms, broken interactivity and event JSON,
 * odd charsets and content types, empty and multi-megabyte bodies; Teams
 * activities to /api/messages with missing, garbage, forged, expired,
 * not-yet-valid, wrong-audience, wrong-issuer, wrong-serviceUrl, foreign-key
 * and alg-none tokens, and malformed activities under a valid token; mixed
 * with valid commands sent twice. Every request gets an HTTP answer below
 * 500 (refused ones 401), no fuzzed request reaches the queue or leaves a
 * delivery claim or audit entry, each replayed pair makes one job, and the
 * bot still answers its probes and queues the next real command.
 */
describe("1000 fuzzed Slack requests and Teams activities", () => {
  let w: World;
  let base: string;

  beforeAll(async () => {
    // The web role alone: whatever intake enqueues stays in the queue to be counted.
    w = await startWorld({ env: { LABOPS_ROLE: "web" } });
    base = `http://127.0.0.1:${w.bot.port}`;
  });
  afterAll(async () => {
    await w?.close();
  });

  it("answers every one properly, enqueues none of them, and counts a replay once", {
    timeout: 240_000,
  }, async () => {
    const slack = fc.sample(slackCases(w, `${base}/slack/events`), { seed: SEED, numRuns: SLACK_RUNS });
    const teams = fc.sample(teamsCases(w, `${base}/api/messages`), { seed: SEED + 1, numRuns: TEAMS_RUNS });
    // Interleaved, as they would arrive.
    const cases = slack
      .flatMap((c, i) => [c, ...(teams[i] ? [teams[i]] : [])])
      .concat(teams.slice(slack.length));
    expect(cases).toHaveLength(SLACK_RUNS + TEAMS_RUNS);
    // Unroutable signed bodies wait out Bolt's 2.5 s before their 404: send many at once.
    const answers = await inParallel(cases, 24, (c) =>
      c.send().catch((error: unknown): Sent => ({ status: 0, body: String(error) })),
    );
    const problems = cases.flatMap((c, i) => verdict(c, answers[i] as Sent));
    expect(problems).toEqual([]);
    expect(requests).toBeGreaterThanOrEqual(1_000);
    const replays = cases.filter((c) => c.replay);
    expect(replays.length).toBeGreaterThanOrEqual(10);
    expect(cases.filter((c) => !c.authentic).length).toBeGreaterThanOrEqual(300);

    // Exactly one job per replayed pair, and nothing from any fuzzed request.
    const jobs = await w.queue.getJobs(["waiting", "active", "completed", "failed", "delayed"]);
    const delivered = jobs.map((j) => (j.data as WireEnvelope).deliveryId);
    expect(new Set(delivered).size).toBe(delivered.length);
    expect(jobs.map((j) => `${j.name} ${(j.data as WireEnvelope).origin.user.id}`).sort()).toEqual(
      replays.map((c) => `lab.list ${c.platform === "slack" ? "U0FUZZ" : "aad-fuzz"}`).sort(),
    );

    // A refused request leaves no trace: no delivery claimed, no audit entry.
    const seen = await scanKeys(w.redis, `${w.prefix}:seen:*`);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((k) => k.includes(FORGED))).toEqual([]);
    const audit = await new RedisAuditLog(w.redis, w.prefix).recent({ limit: 5_000 });
    expect(audit.length).toBeGreaterThan(0);
    expect(JSON.stringify(audit)).not.toContain(FORGED);

    // Still alive and still taking real commands: the counts above could see an enqueue.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const before = await w.jobCount();
    expect((await w.slack.as("U0FUZZ", "fuzz").slash("/lab", "list", { channel: "C0FUZZ" })).status).toBe(
      200,
    );
    expect(await w.jobCount()).toBe(before + 1);
    const person = { aadObjectId: "aad-fuzz", name: "Fuzz" };
    expect((await w.teams.as(person).say(w.teams.channel("fuzz"), "lab list")).status).toBe(200);
    expect(await w.jobCount()).toBe(before + 2);
  });
});

/** What fuzzing found (seed 90210), kept as plain cases so they stay fixed whatever the generators become. */
describe("requests the fuzzer found mishandled", () => {
  let w: World;
  let url: string;
  const signed = (body: string, contentType: string, timestamp: string, signedAs = Number(timestamp)) =>
    fetch(url, {
      method: "POST",
      headers: {
        "content-type": contentType,
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": slackSignature(SLACK_SIGNING_SECRET, signedAs, body),
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
  const now = () => Math.floor(Date.now() / 1000);
  const listCommand = () =>
    slashCommandBody({
      command: "/lab",
      text: "list",
      channel: "C0FUZZ",
      user: "U0FUZZ",
      triggerId: `t${randomBytes(8).toString("hex")}`,
    });

  beforeAll(async () => {
    w = await startWorld({ env: { LABOPS_ROLE: "web" } });
    url = `http://127.0.0.1:${w.bot.port}/slack/events`;
  });
  afterAll(async () => {
    await w?.close();
  });

  it("a signed command dated ahead, or dated in another notation, is refused, not queued", async () => {
    const before = await w.jobCount();
    // Bolt only refuses what is older than five minutes, and reads the header with Number().
    // Ahead by more than the five minutes plus a margin: the server reads its clock a moment (maybe a
    // second boundary) after this one, and 301 s ahead was sometimes exactly 300 s ahead there.
    for (const timestamp of [String(now() + 330), String(now() + 86_400), "1e10", `${now()}.0`, "0x10"]) {
      const res = await signed(listCommand(), FORM, timestamp);
      expect(res.status, timestamp).toBe(401);
    }
    // NaN is never "older than five minutes": signed over "NaN", it went through.
    const nan = await signed(listCommand(), FORM, "abc", Number.NaN);
    expect(nan.status).toBe(401);
    expect(await w.jobCount()).toBe(before);
    // Within the window, either way, it is taken.
    expect((await signed(listCommand(), FORM, String(now() + 60))).status).toBe(200);
    expect((await signed(listCommand(), FORM, String(now() - 60))).status).toBe(200);
    expect(await w.jobCount()).toBe(before + 2);
  });

  it("a signed body that is JSON but not an object gets 400, where it was never answered", async () => {
    for (const [body, type] of [
      ["null", JSON_TYPE],
      ["[]", JSON_TYPE],
      ["7", JSON_TYPE],
      ['"x"', JSON_TYPE],
      ["payload=null", FORM],
      ["payload=%5B%5D", FORM],
    ] as const) {
      const res = await signed(body, type, String(now()));
      expect(res.status, body).toBe(400);
    }
  });

  it("a signed interactivity payload of the wrong shape gets 400, not 500", async () => {
    const payload = { type: "block_actions", actions: false, user: false, team: false };
    const res = await signed(`payload=${encodeURIComponent(JSON.stringify(payload))}`, FORM, String(now()));
    expect(res.status).toBe(400);
    expect(w.logs.entries().some((e) => e.msg === "slack.malformed_request")).toBe(true);
  });

  it("a body too large or unreadable for the Teams route gets a short JSON answer, never a stack trace", async () => {
    const teamsUrl = `http://127.0.0.1:${w.bot.port}/api/messages`;
    for (const [body, type, status] of [
      [`{"type":"message","text":"${"x".repeat(1_100_000)}"}`, JSON_TYPE, 413],
      ['{"type":', JSON_TYPE, 400],
      ['{"type":"message"}', `${JSON_TYPE}; charset=x-unknown`, 415],
    ] as const) {
      const res = await fetch(teamsUrl, { method: "POST", headers: { "content-type": type }, body });
      const text = await res.text();
      expect(res.status).toBe(status);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(text).not.toMatch(/node_modules|at \w+ \(|<pre>/);
    }
  });
});
