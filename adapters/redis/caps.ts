import { hash } from "node:crypto";
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
 *   names held by creates not yet recorded: a hash (lab -> JSON {token, user,
 *   conversation, owner, expires, userSet, conversationSet}) and three sorted
 *   sets of held names scored by their expiry (all, the user's, the
 *   conversation's), so a create reads only its own holds and counts the
 *   rest; lapsed holds are dropped as they are met.
 *
 * A user is `platform\nid` (Teams ids lowercased), a conversation
 * `platform\ntenant\nchannel`: the same keys src/commands/caps.ts makes.
 *
 * KEYS: rate set, holds hash, all holds, the user's holds, the conversation's holds, registry index.
 * ARGV: now, token, user, conversation, exempt (0/1), commands, windowMs,
 *       lab ("" when not a create), holdMs, owner, labsPerUser, labsPerConversation, labs, record key prefix,
 *       batch (a workshop's lab names as a JSON list; "" when not a workshop).
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
  -- Lapsed holds go first.
  for _, name in ipairs(redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", now)) do
    redis.call("HDEL", KEYS[2], name)
  end
  redis.call("ZREMRANGEBYSCORE", KEYS[3], "-inf", now)
  redis.call("ZREMRANGEBYSCORE", KEYS[4], "-inf", now)
  redis.call("ZREMRANGEBYSCORE", KEYS[5], "-inf", now)
  local raw = redis.call("HGET", KEYS[2], lab)
  if raw then
    local held = cjson.decode(raw)
    if held.token ~= token then
      return cjson.encode({cap = "name", holder = "pending", sameConversation = held.conversation == conversation, owner = held.owner})
    end
  end
  local recorded = {}
  local mine, here, all = {}, {}, {}
  for _, name in ipairs(redis.call("ZRANGE", KEYS[6], 0, -1)) do
    local doc = redis.call("GET", ARGV[14] .. name)
    if doc then
      local r = cjson.decode(doc)
      if r.state ~= "destroyed" and type(r.owner) == "table" and type(r.address) == "table" then
        local owner, where = userOf(r.owner), conversationOf(r.address)
        recorded[name] = where
        table.insert(all, name)
        if owner == user then table.insert(mine, name) end
        if where == conversation then table.insert(here, name) end
      end
    end
  end
  local where = recorded[lab]
  if where and where ~= conversation then
    return cjson.encode({cap = "name", holder = "record", sameConversation = false})
  end
  if not where then
    -- Held names not yet recorded, counted without reading them; named only in a refusal.
    local function held(key)
      local n = redis.call("ZCARD", key)
      for name in pairs(recorded) do
        if redis.call("ZSCORE", key, name) then n = n - 1 end
      end
      return n
    end
    local function named(list, key)
      for _, name in ipairs(redis.call("ZRANGE", key, 0, -1)) do
        if not recorded[name] then table.insert(list, name) end
      end
      return list
    end
    if not exempt and #mine + held(KEYS[4]) >= tonumber(ARGV[11]) then
      return cjson.encode({cap = "user", labs = named(mine, KEYS[4])})
    end
    if not exempt and #here + held(KEYS[5]) >= tonumber(ARGV[12]) then
      return cjson.encode({cap = "conversation", labs = named(here, KEYS[5])})
    end
    if #all + held(KEYS[3]) >= tonumber(ARGV[13]) then
      return cjson.encode({cap = "labs", labs = named(all, KEYS[3])})
    end
  end
  local hold = tonumber(ARGV[9])
  local expires = now + hold
  redis.call("HSET", KEYS[2], lab, cjson.encode({token = token, user = user, conversation = conversation, owner = ARGV[10], expires = expires, userSet = KEYS[4], conversationSet = KEYS[5]}))
  for i = 2, 5 do
    if i > 2 then redis.call("ZADD", KEYS[i], expires, lab) end
    -- Kept as long as their longest hold: never shortened by a shorter one.
    if redis.call("PTTL", KEYS[i]) < hold then redis.call("PEXPIRE", KEYS[i], hold) end
  end
end
local batch = ARGV[15]
if batch ~= "" then
  -- A workshop's labs: the new ones must all fit under the cap on all labs, then each is held.
  local names = cjson.decode(batch)
  for _, name in ipairs(redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", now)) do
    redis.call("HDEL", KEYS[2], name)
  end
  redis.call("ZREMRANGEBYSCORE", KEYS[3], "-inf", now)
  redis.call("ZREMRANGEBYSCORE", KEYS[4], "-inf", now)
  redis.call("ZREMRANGEBYSCORE", KEYS[5], "-inf", now)
  local recorded, live = {}, {}
  for _, name in ipairs(redis.call("ZRANGE", KEYS[6], 0, -1)) do
    local doc = redis.call("GET", ARGV[14] .. name)
    if doc then
      local r = cjson.decode(doc)
      if r.state ~= "destroyed" then
        recorded[name] = true
        table.insert(live, name)
      end
    end
  end
  for _, name in ipairs(redis.call("ZRANGE", KEYS[3], 0, -1)) do
    if not recorded[name] then table.insert(live, name) end
  end
  local adding, seen = {}, {}
  for _, name in ipairs(names) do
    if not seen[name] and not recorded[name] and not redis.call("HGET", KEYS[2], name) then
      table.insert(adding, name)
    end
    seen[name] = true
  end
  if #live + #adding > tonumber(ARGV[13]) then
    return cjson.encode({cap = "labs", labs = live, adding = #adding})
  end
  local hold = tonumber(ARGV[9])
  local expires = now + hold
  for _, name in ipairs(adding) do
    redis.call("HSET", KEYS[2], name, cjson.encode({token = token, user = user, conversation = conversation, owner = ARGV[10], expires = expires, userSet = KEYS[4], conversationSet = KEYS[5]}))
    for i = 3, 5 do redis.call("ZADD", KEYS[i], expires, name) end
  end
  for i = 2, 5 do
    if redis.call("PTTL", KEYS[i]) < hold then redis.call("PEXPIRE", KEYS[i], hold) end
  end
end
if not exempt then
  redis.call("ZADD", KEYS[1], now, token)
  redis.call("PEXPIRE", KEYS[1], window)
end
return "ok"
`;

/** KEYS: holds hash, all holds. ARGV: lab, token. The user's and conversation's sets are named in the hold. */
const RELEASE = `
local raw = redis.call("HGET", KEYS[1], ARGV[1])
if not raw then return 0 end
local held = cjson.decode(raw)
if held.token ~= ARGV[2] then return 0 end
redis.call("HDEL", KEYS[1], ARGV[1])
redis.call("ZREM", KEYS[2], ARGV[1])
if type(held.userSet) == "string" then redis.call("ZREM", held.userSet, ARGV[1]) end
if type(held.conversationSet) == "string" then redis.call("ZREM", held.conversationSet, ARGV[1]) end
return 1
`;

/**
 * Undoes an admit: KEYS: the rate set, holds hash, all holds; ARGV: token,
 * then the lab names the admit may hold. Each name is let go only if this
 * token holds it (as RELEASE); the rate loses the token's entry.
 */
const CANCEL = `
redis.call("ZREM", KEYS[1], ARGV[1])
for i = 2, #ARGV do
  local raw = redis.call("HGET", KEYS[2], ARGV[i])
  if raw then
    local held = cjson.decode(raw)
    if held.token == ARGV[1] then
      redis.call("HDEL", KEYS[2], ARGV[i])
      redis.call("ZREM", KEYS[3], ARGV[i])
      if type(held.userSet) == "string" then redis.call("ZREM", held.userSet, ARGV[i]) end
      if type(held.conversationSet) == "string" then redis.call("ZREM", held.conversationSet, ARGV[i]) end
    end
  end
end
return 1
`;

const sha1 = (script: string) => hash("sha1", script, "hex");
/** Key names never hold a user's or a conversation's id, only a digest of it (one-shot: two per command). */
const digest = (text: string) => hash("sha256", text, "hex").slice(0, 24);
const ADMIT_SHA = sha1(ADMIT);

type WithCancel = Redis & { labopsCapsCancel(keyCount: number, ...args: string[]): Promise<unknown> };

export class RedisLabCaps implements LabCaps {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
    // EVALSHA with ioredis's fallback: on the auto-pipelined connection it shares a write with the audit.
    redis.defineCommand("labopsCapsCancel", { lua: CANCEL });
  }

  get #holds(): string {
    return `${this.#prefix}:caps:holds`;
  }

  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const { subject, limits, create } = request;
    const user = digest(subject.user);
    const registry = registryKeys(this.#prefix);
    const keys = [
      `${this.#prefix}:caps:rate:${user}`,
      this.#holds,
      `${this.#holds}:all`,
      `${this.#holds}:user:${user}`,
      `${this.#holds}:conversation:${digest(subject.conversation)}`,
      registry.index,
    ];
    const args = [
      String(request.now),
      request.token,
      subject.user,
      subject.conversation,
      subject.exempt ? "1" : "0",
      String(limits.commands),
      String(Math.max(1, Math.round(limits.windowMs))),
      create?.lab ?? "",
      String(Math.max(1, Math.round(create?.holdMs ?? request.batch?.holdMs ?? 1))),
      create?.owner ?? request.batch?.owner ?? "",
      String(limits.labsPerUser),
      String(limits.labsPerConversation),
      String(limits.labs),
      registry.recordPrefix,
      request.batch ? JSON.stringify(request.batch.labs) : "",
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
    await this.#redis.eval(RELEASE, 2, this.#holds, `${this.#holds}:all`, lab, token);
  }

  async cancel(request: AdmitRequest): Promise<void> {
    const labs = [...(request.create ? [request.create.lab] : []), ...(request.batch?.labs ?? [])];
    const rate = `${this.#prefix}:caps:rate:${digest(request.subject.user)}`;
    await (this.#redis as WithCancel).labopsCapsCancel(
      3,
      rate,
      this.#holds,
      `${this.#holds}:all`,
      request.token,
      ...labs,
    );
  }
}

function parseRefusal(json: string): AdmitResult {
  const r = JSON.parse(json) as {
    cap: string;
    count?: number;
    retryAt?: number;
    labs?: unknown;
    adding?: number;
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
      return { ok: false, cap: r.cap, labs, ...(typeof r.adding === "number" ? { adding: r.adding } : {}) };
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
