import type { Redis } from "ioredis";
import type {
  CapacityReservations,
  ReservationRequest,
  ReservationResult,
} from "../../src/ports/capacity.ts";

/**
 * Reservations of compute quota by labs being created, in one Redis hash
 * (lab -> {"amounts": [[key, vCPUs]…], "expiresAt": ms}). `reserve` is one Lua
 * script: it drops expired entries, sums the others (but the lab's own and
 * those the caller says the usages already include), checks every key and
 * records the lab only if all fit, so creates sent at the same moment on any
 * number of workers cannot all take the last room.
 *
 * KEYS[1]: the hash. ARGV: id, now, ttlMs, needs as JSON [[key, amount, available]…], ignore as JSON [id…].
 */
const RESERVE = `
local id = ARGV[1]
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local needs = cjson.decode(ARGV[4])
local ignore = {}
for _, v in ipairs(cjson.decode(ARGV[5])) do ignore[v] = true end
local totals = {}
local labs = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local rid = all[i]
  local doc = cjson.decode(all[i + 1])
  if tonumber(doc.expiresAt) <= now then
    redis.call('HDEL', KEYS[1], rid)
  elseif rid ~= id and not ignore[rid] then
    for _, pair in ipairs(doc.amounts) do
      local k = pair[1]
      totals[k] = (totals[k] or 0) + tonumber(pair[2])
      labs[k] = (labs[k] or 0) + 1
    end
  end
end
local amounts = {}
for _, need in ipairs(needs) do
  local k = need[1]
  local amount = tonumber(need[2])
  local available = tonumber(need[3])
  if amount > 0 and (totals[k] or 0) + amount > available then
    return {'full', k, tostring(totals[k] or 0), tostring(labs[k] or 0)}
  end
  table.insert(amounts, {k, amount})
end
redis.call('HSET', KEYS[1], id, cjson.encode({amounts = amounts, expiresAt = now + ttl}))
local left = redis.call('PTTL', KEYS[1])
if left < ttl + 60000 then redis.call('PEXPIRE', KEYS[1], ttl + 60000) end
return {'ok'}
`;

/** ARGV: id, now, afterMs. Shortens a reservation's life to `afterMs` (deletes it at 0). */
const RELEASE = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local after = tonumber(ARGV[3])
if after <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
local doc = cjson.decode(raw)
local at = tonumber(ARGV[2]) + after
if tonumber(doc.expiresAt) > at then
  doc.expiresAt = at
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(doc))
end
return 1
`;

interface StoredReservation {
  amounts: Array<[string, number]>;
  expiresAt: number;
}

export class RedisCapacityReservations implements CapacityReservations {
  readonly #redis: Redis;
  readonly #key: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#key = `${prefix}:capacity:reservations`;
  }

  async reserve(request: ReservationRequest): Promise<ReservationResult> {
    const needs = Object.entries(request.amounts).map(([key, amount]) => [
      key,
      amount,
      request.available[key] ?? 0,
    ]);
    const result = (await this.#redis.eval(
      RESERVE,
      1,
      this.#key,
      request.id,
      String(request.now),
      String(Math.max(1, Math.round(request.ttlMs))),
      JSON.stringify(needs),
      JSON.stringify(request.ignore),
    )) as string[];
    if (result[0] === "ok") return { ok: true };
    return { ok: false, key: result[1] ?? "", reserved: Number(result[2]), labs: Number(result[3]) };
  }

  async release(id: string, now: number, afterMs: number): Promise<void> {
    await this.#redis.eval(RELEASE, 1, this.#key, id, String(now), String(Math.max(0, Math.round(afterMs))));
  }

  async reserved(now: number): Promise<Record<string, number>> {
    const all = await this.#redis.hgetall(this.#key);
    const totals: Record<string, number> = {};
    for (const raw of Object.values(all)) {
      const doc = JSON.parse(raw) as StoredReservation;
      if (doc.expiresAt <= now) continue;
      // cjson writes an empty list as {}.
      for (const [key, amount] of Array.isArray(doc.amounts) ? doc.amounts : [])
        totals[key] = (totals[key] ?? 0) + amount;
    }
    return totals;
  }
}
