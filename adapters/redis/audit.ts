import type { Redis } from "ioredis";
import type { CommandKind } from "../../src/commands/types.ts";
import type { AuditEntry, AuditLog, AuditQuery, AuditResult } from "../../src/ports/audit.ts";
import type { Platform } from "../../src/ports/chat.ts";

/**
 * The audit trail in Redis streams: every entry goes to the installation's
 * stream (capped near 100 000 entries) and, when it names a lab, to that lab's
 * own stream (capped near 500) so `lab status` reads a lab's history in one
 * XREVRANGE. Fields are flat strings, readable with redis-cli.
 */
const GLOBAL_CAP = 100_000;
const PER_LAB_CAP = 500;

/**
 * KEYS: the installation's stream, then the lab's (when the entry names one);
 * ARGV: their caps, then the entry's fields. Both streams or neither, in one
 * command: on the web role's auto-pipelined connection it shares the socket
 * write of every other command issued in the same turn (a MULTI would not).
 */
const RECORD = `
redis.call("xadd", KEYS[1], "MAXLEN", "~", ARGV[1], "*", unpack(ARGV, 3))
if KEYS[2] then redis.call("xadd", KEYS[2], "MAXLEN", "~", ARGV[2], "*", unpack(ARGV, 3)) end
return 1`;

/**
 * RECORD, only when KEYS[1] exists: a queued command's entry, sent in the
 * same socket write as the BullMQ add of its job and run after it, so the
 * entry says "queued" only of a job Redis holds. KEYS: the job's hash, then
 * RECORD's keys; ARGV: RECORD's.
 */
const RECORD_IF_STORED = `
if redis.call("exists", KEYS[1]) == 0 then return 0 end
redis.call("xadd", KEYS[2], "MAXLEN", "~", ARGV[1], "*", unpack(ARGV, 3))
if KEYS[3] then redis.call("xadd", KEYS[3], "MAXLEN", "~", ARGV[2], "*", unpack(ARGV, 3)) end
return 1`;

type WithRecord = Redis & {
  labopsAuditRecord(keyCount: number, ...args: string[]): Promise<unknown>;
  labopsAuditRecordIfStored(keyCount: number, ...args: string[]): Promise<unknown>;
};

const FIELDS = [
  "at",
  "correlationId",
  "deliveryId",
  "platform",
  "tenant",
  "channel",
  "userId",
  "userName",
  "command",
  "kind",
  "lab",
  "result",
  "reason",
  "jobId",
] as const satisfies ReadonlyArray<keyof AuditEntry>;

function toFields(entry: AuditEntry): string[] {
  const out: string[] = [];
  for (const field of FIELDS) {
    const value = entry[field];
    if (value !== undefined) out.push(field, String(value));
  }
  return out;
}

function fromFields(fields: string[]): AuditEntry {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] ?? "", fields[i + 1] ?? "");
  const entry: AuditEntry = {
    at: Number(map.get("at") ?? 0),
    correlationId: map.get("correlationId") ?? "",
    deliveryId: map.get("deliveryId") ?? "",
    platform: (map.get("platform") ?? "slack") as Platform,
    tenant: map.get("tenant") ?? "",
    channel: map.get("channel") ?? "",
    userId: map.get("userId") ?? "",
    command: map.get("command") ?? "",
    result: (map.get("result") ?? "answered") as AuditResult,
  };
  const userName = map.get("userName");
  if (userName !== undefined) entry.userName = userName;
  const kind = map.get("kind");
  if (kind !== undefined) entry.kind = kind as CommandKind;
  const lab = map.get("lab");
  if (lab !== undefined) entry.lab = lab;
  const reason = map.get("reason");
  if (reason !== undefined) entry.reason = reason;
  const jobId = map.get("jobId");
  if (jobId !== undefined) entry.jobId = jobId;
  return entry;
}

export class RedisAuditLog implements AuditLog {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
    // EVALSHA, falling back to EVAL once per connection: the script's text is not sent with every entry.
    redis.defineCommand("labopsAuditRecord", { lua: RECORD });
    redis.defineCommand("labopsAuditRecordIfStored", { lua: RECORD_IF_STORED });
  }

  /** The connection entries are written on: a queue sharing it can send an entry in the same write as a job. */
  get connection(): Redis {
    return this.#redis;
  }

  get #stream(): string {
    return `${this.#prefix}:audit`;
  }
  #labStream(lab: string): string {
    return `${this.#prefix}:audit:lab:${lab}`;
  }

  async record(entry: AuditEntry): Promise<void> {
    const fields = toFields(entry);
    const caps = [String(GLOBAL_CAP), String(PER_LAB_CAP)];
    const redis = this.#redis as WithRecord;
    if (entry.lab === undefined) await redis.labopsAuditRecord(1, this.#stream, ...caps, ...fields);
    else await redis.labopsAuditRecord(2, this.#stream, this.#labStream(entry.lab), ...caps, ...fields);
  }

  /**
   * Records `entry` only if `key` (a job's hash) exists when Redis runs this
   * command; true when it did. Issued right after the job's add on the same
   * connection, it runs after that add (BullCommandQueue, jobs/queue.ts).
   */
  async recordIfStored(entry: AuditEntry, key: string): Promise<boolean> {
    const fields = toFields(entry);
    const caps = [String(GLOBAL_CAP), String(PER_LAB_CAP)];
    const redis = this.#redis as WithRecord;
    const written =
      entry.lab === undefined
        ? await redis.labopsAuditRecordIfStored(2, key, this.#stream, ...caps, ...fields)
        : await redis.labopsAuditRecordIfStored(
            3,
            key,
            this.#stream,
            this.#labStream(entry.lab),
            ...caps,
            ...fields,
          );
    return written === 1;
  }

  async recent(query: AuditQuery = {}): Promise<AuditEntry[]> {
    const key = query.lab === undefined ? this.#stream : this.#labStream(query.lab);
    const rows = await this.#redis.xrevrange(key, "+", "-", "COUNT", query.limit ?? 20);
    return rows.map(([, fields]) => fromFields(fields));
  }
}
