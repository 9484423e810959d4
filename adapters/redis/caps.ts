import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { AdmitRequest, AdmitResult, LabCaps } from "../../src/ports/caps.ts";
import { registryKeys } from "./registry.ts";

/**
 * The caps in Redis: one Lua script per command, so checking every cap and
 * counting the command is one round trip and one atomic step.
 *
 * - The command rate: a sorted set per user (its key a digest of the user),
 *   one member per admitted command scored by its time; members older than
 *   the window are dropped first.
 * - The live labs: read from the lab registry itself (its index and records,
 *   keys made from the prefix given in ARGV, so it reads one installation's
 *   registry whole; a standalone Redis, like every script here), plus the
 *   names held by creates not yet recorded, in one hash (lab -> JSON
 *   {token, user, conversation, owner, expires}); expired holds are dropped
 *   as the script reads them.
 *
 * A user is `platform\nid` (Teams ids lowercased), a conversation
 * `platform\ntenant\nchannel`: the same keys src/commands/caps.ts makes.
 *
 * KEYS: rate set, holds hash, registry index.
 * ARGV: now, token, user, conversation, exempt (0/1), commands, windowMs,
 *       lab ("" when not a create), holdMs, owner, labsPerUser, labsPerConversation, labs, record key prefix.
 */
const ADMIT = `
local now = tonumber(ARGV[1])
local token = ARGV[2]
local user = ARGV[3]
local conversation = ARGV[4]
local exempt = ARGV[5] == "1"
local window = tonumber(ARGV[7])
if not exempt then
  redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now - window)
  local count = redis.call("ZCARD", KEYS[1])
  if count >= tonumber(ARGV[6]) then
    local oldest = redis.call("ZRANGE", KEYS[1], 0, 0, "WITHSCORES")
    return cjson.encode({cap = "rate", count = count, retryAt = tonumber(oldest[2]) + window})
  end
end
local lab = ARGV[8]
if lab ~= "" then
  local function text(v) if type(v) == "string" then return v end return "" end
  local function userOf(u)
    local id = text(u.id)
    if u.platform == "teams" then id = string.lower(id) end
    return text(u.platform) .. "\\n" .. id
  end
  local function conversationOf(a)
    return text(a.platform) .. "\\n" .. text(a.tenant) .. "\\n" .. text(a.channel)
  end
  local live = {}
  local recorded = {}
  for _, name in ipairs(redis.call("ZRANGE", KEYS[3], 0, -1)) do
    local raw = redis.call("GET", ARGV[14] .. name)
    if raw then
      local r = cjson.decode(raw)
      if r.state ~= "destroyed" and type(r.owner) == "table" and type(r.address) == "table" then
        local entry = {name = name, user = userOf(r.owner), conversation = conversationOf(r.address)}
        table.insert(live, entry)
        recorded[name] = entry
      end
    end
  end
  local held = nil
  local holds = redis.call("HGETALL", KEYS[2])
  for i = 1, #holds, 2 do
    local name = holds[i]
    local h = cjson.decode(holds[i + 1])
    if tonumber(h.expires) <= now then
      redis.call("HDEL", KEYS[2], name)
    else
      if name == lab then held = h end
      if not recorded[name] then
        table.insert(live, {name = name, user = h.user, conversation = h.conversation})
      end
    end
  end
  if held and held.token ~= token then
    return cjson.encode({cap = "name", holder = "pending", sameConversation = held.conversation == conversation, owner = held.owner})
  end
  local record = recorded[lab]
  if record and record.conversation ~= conversation then
    return cjson.encode({cap = "name", holder = "record", sameConversation = false})
  end
  if not record then
    local mine, here, all = {}, {}, {}
    for _, e in ipairs(live) do
      table.insert(all, e.name)
      if e.user == user then table.insert(mine, e.name) end
      if e.conversation == conversation then table.insert(here, e.name) end
    end
    if not exempt and #mine >= tonumber(ARGV[11]) then return cjson.encode({cap = "user", labs = mine}) end
    if not exempt and #here >= tonumber(ARGV[12]) then return cjson.encode({cap = "conversation", labs = here}) end
    if #all >= tonumber(ARGV[13]) then return cjson.encode({cap = "labs", labs = all}) end
  end
  local hold = tonumber(ARGV[9])
  redis.call("HSET", KEYS[2], lab, cjson.encode({token = token, user = user, conversation = conversation, owner = ARGV[10], expires = now + hold}))
  redis.call("PEXPIRE", KEYS[2], hold)
end
if not exempt then
  redis.call("ZADD", KEYS[1], now, token)
  redis.call("PEXPIRE", KEYS[1], window)
end
return "ok"
`;

/** KEYS: holds hash. ARGV: lab, token. */
const RELEASE = `
local raw = redis.call("HGET", KEYS[1], ARGV[1])
if raw and cjson.decode(raw).token == ARGV[2] then redis.call("HDEL", KEYS[1], ARGV[1]) end
return 0
`;

const sha1 = (script: string) => createHash("sha1").update(script).digest("hex");
const ADMIT_SHA = sha1(ADMIT);

export class RedisLabCaps implements LabCaps {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  get #holds(): string {
    return `${this.#prefix}:caps:holds`;
  }

  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const { subject, limits, create } = request;
    const userDigest = createHash("sha256").update(subject.user).digest("hex").slice(0, 24);
    const registry = registryKeys(this.#prefix);
    const keys = [`${this.#prefix}:caps:rate:${userDigest}`, this.#holds, registry.index];
    const args = [
      String(request.now),
      request.token,
      subject.user,
      subject.conversation,
      subject.exempt ? "1" : "0",
      String(limits.commands),
      String(Math.max(1, Math.round(limits.windowMs))),
      create?.lab ?? "",
      String(Math.max(1, Math.round(create?.holdMs ?? 1))),
      create?.owner ?? "",
      String(limits.labsPerUser),
      String(limits.labsPerConversation),
      String(limits.labs),
      registry.recordPrefix,
    ];
    // EVALSHA first: the script is sent once per Redis, not with every command.
    let raw: unknown;
    try {
      raw = await this.#redis.evalsha(ADMIT_SHA, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      raw = await this.#redis.eval(ADMIT, keys.length, ...keys, ...args);
    }
    if (raw === "ok") return { ok: true };
    return parseRefusal(String(raw));
  }

  async release(lab: string, token: string): Promise<void> {
    await this.#redis.eval(RELEASE, 1, this.#holds, lab, token);
  }
}

function parseRefusal(json: string): AdmitResult {
  const r = JSON.parse(json) as {
    cap: string;
    count?: number;
    retryAt?: number;
    labs?: unknown;
    holder?: "record" | "pending";
    sameConversation?: boolean;
    owner?: string;
  };
  // cjson writes an empty list as {}.
  const labs = Array.isArray(r.labs) ? r.labs.map(String) : [];
  switch (r.cap) {
    case "rate":
      return { ok: false, cap: "rate", count: Number(r.count), retryAt: Number(r.retryAt) };
    case "user":
    case "conversation":
    case "labs":
      return { ok: false, cap: r.cap, labs };
    case "name":
      return {
        ok: false,
        cap: "name",
        holder: r.holder === "pending" ? "pending" : "record",
        sameConversation: r.sameConversation === true,
        ...(typeof r.owner === "string" && r.owner !== "" ? { owner: r.owner } : {}),
      };
    default:
      throw new Error(`caps script answered ${r.cap}`);
  }
}
