import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fromWire, toWire } from "../../src/commands/envelope.ts";
import { parseCommandText } from "../../src/commands/parse.ts";
import { fingerprint, fingerprintKey, seal, unseal } from "../../src/crypto.ts";
import type { CommandEnvelope } from "../../src/ports/queue.ts";
import { SecretValue } from "../../src/secret-value.ts";

const key = randomBytes(32);

describe("sealed secret values", () => {
  it("seals with AES-256-GCM bound to its context", () => {
    const sealed = seal(new SecretValue("orange"), key, "delivery-1");
    expect(sealed).not.toContain("orange");
    expect(unseal(sealed, key, "delivery-1").reveal()).toBe("orange");
    expect(() => unseal(sealed, key, "delivery-2")).toThrow(/cannot be opened/);
    expect(() => unseal(sealed, randomBytes(32), "delivery-1")).toThrow(/LABOPS_SECRET_KEY/);
  });

  it("puts a rotate command into job data with the value sealed, and takes it back", () => {
    const parsed = parseCommandText("secret rotate color canary-orange-42 --lab team-a");
    if (!parsed.ok) throw new Error("parse");
    const envelope: CommandEnvelope = {
      deliveryId: "slack.T1.123",
      correlationId: "c-1",
      command: parsed.command,
      origin: {
        address: { platform: "slack", tenant: "T1", channel: "C1" },
        user: { platform: "slack", id: "U1" },
      },
      receivedAt: 1,
    };
    const wire = JSON.parse(JSON.stringify(toWire(envelope, key)));
    expect(JSON.stringify(wire)).not.toContain("canary-orange-42");
    const back = fromWire(wire, key);
    expect(back.command.kind === "secret.rotate" && back.command.value?.reveal()).toBe("canary-orange-42");
  });

  it("fingerprints without revealing", () => {
    const fp = fingerprintKey(key);
    expect(fingerprint(new SecretValue("orange"), fp)).toMatch(/^hmac:[0-9a-f]{8}$/);
    expect(fingerprint("orange", fp)).toBe(fingerprint(new SecretValue("orange"), fp));
  });

  it("keys the fingerprint, so a short value cannot be found by hashing guesses (issue 14, finding 4)", () => {
    const sha = createHash("sha256").update("orange", "utf8").digest("hex").slice(0, 8);
    const shown = fingerprint("orange", fingerprintKey(key));
    expect(shown).not.toContain(sha);
    expect(shown).not.toBe(fingerprint("orange", fingerprintKey(randomBytes(32))));
    // Derived under its own label: the fingerprint key is not the sealing key.
    expect(fingerprintKey(key).equals(key)).toBe(false);
    expect(fingerprintKey(key).equals(fingerprintKey(key))).toBe(true);
  });
});
