import { inspect } from "node:util";

const REDACTED = "[secret]";

/**
 * A secret value held in memory. It cannot be logged, stringified or
 * serialised by accident: every such path yields "[secret]". Only `reveal()`
 * gives the value, and only the code that writes it to the vault calls it.
 */
export class SecretValue {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  get length(): number {
    return Buffer.byteLength(this.#value, "utf8");
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}
