import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import { type BufferedIncomingMessage, HTTPModuleFunctions } from "@slack/bolt";
import type { Clock } from "../../src/clock.ts";
import { errorCode } from "../../src/errors.ts";
import type { Logger } from "../../src/log.ts";

/** Verifying a Slack HTTP request before Bolt reads it: its window, its signature and its body's shape. */

/** Slack's request window, both ways: Bolt refuses timestamps older than this, we refuse newer ones. */
export const SLACK_REQUEST_WINDOW_S = 5 * 60;

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

/** Slack's connectivity probe, which Bolt answers without a signature (and strips of anything else). */
function isSslCheck(req: BufferedIncomingMessage): boolean {
  return (
    req.headers["content-type"] === "application/x-www-form-urlencoded" &&
    parseQuery(req.rawBody.toString()).ssl_check === "1"
  );
}

/**
 * In front of Bolt's HTTP receiver, the one place a Slack request is
 * verified: a timestamp outside the window (see isOutsideSlackWindow) gets
 * 401, then the v0 signature is checked by Bolt's own function (which also
 * strips an unsigned `ssl_check` probe of anything else), and a signed body
 * that is not a JSON object (`null`, `[]`, `payload=1`) gets 400. Bolt reads
 * `body.ssl_check` off such a body outside its own error handling: the
 * request was never answered and the rejection went unhandled, which ends a
 * Node process. Bolt then sees the buffered request and does not read it again.
 */
export function guardRequests(
  listener: RequestListener,
  signingSecret: string,
  log: Logger,
  clock: Pick<Clock, "now">,
): RequestListener {
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
    if (
      !isSslCheck(buffered) &&
      isOutsideSlackWindow(req.headers["x-slack-request-timestamp"], clock.now())
    ) {
      refuse(res, 401, "slack_request_timestamp");
      return;
    }
    try {
      await HTTPModuleFunctions.parseAndVerifyHTTPRequest({ signingSecret }, buffered);
    } catch {
      refuse(res, 401, "slack_signature");
      return;
    }
    let body: unknown;
    try {
      body = HTTPModuleFunctions.parseHTTPRequestBody(buffered);
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
