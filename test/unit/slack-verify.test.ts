import { verifySlackRequest } from "@slack/bolt";
import { describe, expect, it } from "vitest";
import { slackSignatureVerifier } from "../../adapters/slack/verify.ts";
import { slackSignature } from "../../emulators/slack/signing.ts";

const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const NOW_S = 1_790_000_000;

/** Bolt's own verdict on the same request (its clock set to the request's second). */
function boltAccepts(secret: string, signature: string, timestamp: string, body: string): boolean {
  try {
    verifySlackRequest({
      signingSecret: secret,
      body,
      headers: { "x-slack-signature": signature, "x-slack-request-timestamp": Number(timestamp) },
      nowMilliseconds: NOW_S * 1000,
    });
    return true;
  } catch {
    return false;
  }
}

describe("the Slack v0 signature check in front of Bolt", () => {
  const verify = slackSignatureVerifier(SECRET);
  const ts = String(NOW_S);
  const body = "command=%2Flab&text=create+a%C3%A9&trigger_id=1.2.abc";
  const good = slackSignature(SECRET, NOW_S, body);

  it("gives Bolt's verdict on signed, forged and mangled signatures", () => {
    const cases: Array<[string, string]> = [
      ["signed", good],
      ["another secret", slackSignature("not-the-secret", NOW_S, body)],
      ["another body", slackSignature(SECRET, NOW_S, `${body}&x=1`)],
      ["another second", slackSignature(SECRET, NOW_S + 1, body)],
      ["upper-case hex", `v0=${good.slice(3).toUpperCase()}`],
      ["v1", `v1=${good.slice(3)}`],
      ["one digit short", good.slice(0, -1)],
      ["no digest", "v0="],
      ["empty", ""],
      ["not hex", `v0=${"z".repeat(64)}`],
    ];
    for (const [what, signature] of cases) {
      expect(verify(signature, ts, Buffer.from(body)), what).toBe(boltAccepts(SECRET, signature, ts, body));
    }
    expect(verify(good, ts, Buffer.from(body))).toBe(true);
  });

  it("refuses what Bolt would read only part of, a missing or repeated header, and any request without a secret", () => {
    // Bolt splits on "=" and compares the second part alone.
    expect(verify(`${good}=x`, ts, Buffer.from(body))).toBe(false);
    expect(verify(undefined, ts, Buffer.from(body))).toBe(false);
    expect(verify([good, good], ts, Buffer.from(body))).toBe(false);
    expect(slackSignatureVerifier("")(slackSignature("", NOW_S, body), ts, Buffer.from(body))).toBe(false);
  });
});
