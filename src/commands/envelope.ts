import { seal, unseal } from "../crypto.ts";
import { LabopsError } from "../errors.ts";
import type { CommandEnvelope } from "../ports/queue.ts";
import type { Command } from "./types.ts";

/**
 * The JSON form of a CommandEnvelope as it sits in Redis. It is the same
 * envelope with any secret value sealed; nothing in it is secret in clear.
 */
export type WireCommand =
  | Exclude<Command, { kind: "secret.rotate" }>
  | (Omit<Extract<Command, { kind: "secret.rotate" }>, "value"> & { sealedValue: string | undefined });

export type WireEnvelope = Omit<CommandEnvelope, "command"> & { command: WireCommand };

export function toWire(envelope: CommandEnvelope, key: Buffer): WireEnvelope {
  const { command } = envelope;
  if (command.kind !== "secret.rotate") return { ...envelope, command };
  const { value, ...rest } = command;
  return {
    ...envelope,
    command: {
      ...rest,
      sealedValue: value === undefined ? undefined : seal(value, key, envelope.deliveryId),
    },
  };
}

/** The wire envelope without its sealed value (once the value is written where it belongs). */
export function withoutSealedValue<T extends WireEnvelope>(wire: T): T {
  const { command } = wire;
  if (command.kind !== "secret.rotate" || command.sealedValue === undefined) return wire;
  const { sealedValue: _dropped, ...rest } = command;
  return { ...wire, command: { ...rest, sealedValue: undefined } };
}

export function fromWire(wire: WireEnvelope, key: Buffer): CommandEnvelope {
  const { command } = wire;
  if (typeof command !== "object" || command === null || typeof command.kind !== "string") {
    throw new LabopsError("job_malformed", "A queued command is malformed and was dropped; ask again.");
  }
  if (command.kind !== "secret.rotate") return { ...wire, command };
  const { sealedValue, ...rest } = command;
  return {
    ...wire,
    command: {
      ...rest,
      value: sealedValue === undefined ? undefined : unseal(sealedValue, key, wire.deliveryId),
    },
  };
}
