import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import { type BufferedIncomingMessage, HTTPModuleFunctions } from "@slack/bolt";
import type { Clock } from "../../src/clock.ts";
import { errorCode } from "../../src/errors.ts";
import type { Logger } from "../../src/log.ts";

/** Slack's request window, both ways: Bolt refuses timestamps older than this, we refuse newer ones. */
export const SLACK_REQUEST_WINDOW_S = 5 * 60;

const FORM = "application/x-www-form-urlencoded";
/** `v0=` and 64 hex digits. */
const EXPECTED_LENGTH = 67;

/**
 * Bolt checks only that `Number(timestamp)` is not older than five minutes,
 * and signs over that number: a signed request dated ahead ("1e10", or a
 * second count far off) or not dated at all ("abc" is NaN, never "older")
 * would pass. Slack's rule is whole seconds within five minutes either way.
 */
export function isOutsideSlackWindow(header: string | string[] | undefined, nowMs: number): boolean {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\d{1,12}$/.test(value)) return true;
  return Math.abs(Number(value) - Math.floor(nowMs / 1000)) > SLACK_REQUEST_WINDOW_S;
}

/**
 * Slack's v0 signature: `v0=` and the hex HMAC-SHA256, under the signing
 * secret, of `v0:<timestamp>:<raw body>` (the timestamp as Bolt reads it, a
 * number), over the body's bytes as they came. The same check as Bolt's
 * verifySlackRequest (the same lowercase hex, compared in constant time),
 * with the key made once rather than per request and one HMAC instead of
 * three (Bolt compares through tsscmp, which HMACs both sides again); a
 * signature with anything after its digest is refused, where Bolt reads only
 * up to a second "=". The caller has already checked the timestamp.
 */
export function slackSignatureVerifier(
  signingSecret: string,
): (signature: string | string[] | undefined, timestamp: string, rawBody: Buffer) => boolean {
  // Without a secret nothing is verified (as Bolt refuses every request then).
  const key: KeyObject | undefined =
    signingSecret === "" ? undefined : createSecretKey(Buffer.from(signingSecret, "utf8"));
  return (signature, timestamp, rawBody) => {
    if (key === undefined || typeof signature !== "string" || signature.length !== EXPECTED_LENGTH) {
      return false;
    }
    const hmac = createHmac("sha256", key)
      .update(`v0:${Number(timestamp)}:`)
      .update(rawBody);
    const given = Buffer.from(signature, "utf8");
    const expected = Buffer.from(`v0=${hmac.digest("hex")}`, "latin1");
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}

/**
 * In front of Bolt's HTTP receiver, the one place a Slack request is
 * verified, with one parse of its body: Slack's unsigned `ssl_check` probe
 * goes on stripped of anything else (as Bolt strips it: nothing smuggled in
 * one is ever read); otherwise a timestamp outside the window (see
 * isOutsideSlackWindow) or a bad v0 signature gets 401, and a signed body
 * that is not a JSON object (`null`, `[]`, `payload=1`) gets 400. Bolt reads
 * `body.ssl_check` off such a body outside its own error handling: the
 * request was never answered and the rejection went unhandled, which ends a
 * Node process. Bolt then sees the buffered request and does not read it again.
 */
export function guardSlackRequests(
  listener: RequestListener,
  signingSecret: string,
  log: Logger,
  clock: Pick<Clock, "now">,
): RequestListener {
  const verify = slackSignatureVerifier(signingSecret);
  const refuse = (res: ServerResponse, status: number, code: string) => {
    log.warn({ code }, "slack.request_refused");
    if (!res.headersSent) res.writeHead(status).end();
  };
  async function guard(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let buffered: BufferedIncomingMessage;
    try {
      buffered = await HTTPModuleFunctions.bufferIncomingMessage(req, HTTPModuleFunctions.defaultBodyLimit);
    } catch (error) {
      const tooLarge = HTTPModuleFunctions.isRawBodyError(error) && error.statusCode === 413;
      refuse(res, tooLarge ? 413 : 400, tooLarge ? "slack_body_too_large" : "slack_body_unreadable");
      return;
    }
    const form = req.headers["content-type"] === FORM ? parseQuery(buffered.rawBody.toString()) : undefined;
    if (form?.ssl_check === "1") {
      buffered.rawBody = Buffer.from("ssl_check=1");
      listener(buffered, res);
      return;
    }
    const timestamp = req.headers["x-slack-request-timestamp"];
    if (typeof timestamp !== "string" || isOutsideSlackWindow(timestamp, clock.now())) {
      refuse(res, 401, "slack_request_timestamp");
      return;
    }
    if (!verify(req.headers["x-slack-signature"], timestamp, buffered.rawBody)) {
      refuse(res, 401, "slack_signature");
      return;
    }
    let body: unknown;
    try {
      body =
        form === undefined
          ? JSON.parse(buffered.rawBody.toString())
          : typeof form.payload === "string"
            ? JSON.parse(form.payload)
            : form;
    } catch {
      body = undefined;
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      refuse(res, 400, "slack_body_malformed");
      return;
    }
    listener(buffered, res);
  }
  return (req, res) => {
    guard(req, res).catch((error: unknown) => {
      log.error({ code: errorCode(error) }, "slack.request_failed");
      if (!res.headersSent) res.writeHead(500).end();
    });
  };
}
