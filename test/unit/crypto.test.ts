import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fromWire, toWire } from "../../src/commands/envelope.ts";
import { parseCommandText } from "../../src/commands/parse.ts";
import { fingerprint, seal, unseal } from "../../src/crypto.ts";
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
    expect(fingerprint(new SecretValue("orange"))).toMatch(/^sha256:[0-9a-f]{8}$/);
    expect(fingerprint("orange")).toBe(fingerprint(new SecretValue("orange")));
  });
});
