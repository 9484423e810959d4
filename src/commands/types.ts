import type { SecretValue } from "../secret-value.ts";

/** Every command the product understands, whichever chat it came from. */
export type Command =
  | { kind: "lab.create"; lab: string; ttlMs: number | undefined; host?: string }
  | { kind: "lab.destroy"; lab: string; confirmed: boolean }
  | { kind: "lab.status"; lab: string | undefined }
  | { kind: "lab.list" }
  | { kind: "lab.extend"; lab: string; byMs: number | undefined }
  /** `member`: the user id the mention carried (Slack user id, Teams AAD object id). */
  /** `memberName`: how the chat showed the mention (Teams), for answers only; never an identity. */
  | { kind: "lab.grant"; lab: string; member: string; memberName?: string }
  | { kind: "lab.revoke"; lab: string; member: string; memberName?: string }
  | {
      kind: "secret.rotate";
      secret: string;
      value: SecretValue | undefined;
      lab: string | undefined;
      /** `--new`: the secret may be one the lab does not have yet. */
      create?: boolean;
    }
  | { kind: "secret.list"; lab: string | undefined }
  | { kind: "secret.rollback"; secret: string; lab: string | undefined }
  | { kind: "host.create"; host: string; nodeCount: number | undefined; ttlMs: number | undefined }
  | { kind: "host.status"; host: string | undefined }
  | { kind: "host.destroy"; host: string; force: boolean; confirmed: boolean }
  | {
      kind: "workshop.create";
      prefix: string;
      teams: number;
      host: string | undefined;
      ttlMs: number | undefined;
    }
  | { kind: "workshop.status"; prefix: string }
  | { kind: "workshop.destroy"; prefix: string; confirmed: boolean }
  | { kind: "help"; topic: "lab" | "secret" | "host" | undefined };

export type CommandKind = Command["kind"];

export interface Rejection {
  /** One message: what was wrong, what is allowed, and an example. */
  message: string;
}

export type ParseResult = { ok: true; command: Command } | { ok: false; rejection: Rejection };
