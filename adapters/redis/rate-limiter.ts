import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { RateLimiter, RateRequest } from "../../src/ports/rate.ts";

/**
 * The rate limiter in Redis, shared by every web and worker process. One Lua
 * script reserves a slot under all of an operation's keys atomically (same
 * algorithm as InMemoryRateLimiter), on Redis's own clock so that processes
 * whose clocks differ still agree. Each key is a sorted set of reservation
 * times, trimmed to the largest window's `max`; `<key>:until` holds a block.
 *
 * KEYS: for each request, its sorted set and its block key.
 * ARGV[1]: a unique member id; ARGV[1 + i]: request i's windows as "ms:max,ms:max".
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local at = now
local n = #KEYS / 2
local keeps = {}
local longest = {}
for i = 1, n do
  local key = KEYS[2 * i - 1]
  local blocked = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  if blocked > at then at = blocked end
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] and tonumber(last[2]) > at then at = tonumber(last[2]) end
  local keep = 1
  local wmax = 0
  for w, m in string.gmatch(ARGV[i + 1], '(%d+):(%d+)') do
    w = tonumber(w)
    m = tonumber(m)
    if m > keep then keep = m end
    if w > wmax then wmax = w end
    local nth = redis.call('ZRANGE', key, -m, -m, 'WITHSCORES')
    if nth[2] and tonumber(nth[2]) + w > at then at = tonumber(nth[2]) + w end
  end
  keeps[i] = keep
  longest[i] = wmax
end
for i = 1, n do
  local key = KEYS[2 * i - 1]
  redis.call('ZADD', key, at, ARGV[1])
  redis.call('ZREMRANGEBYRANK', key, 0, -(keeps[i] + 1))
  redis.call('PEXPIRE', key, at - now + longest[i] + 1000)
end
return at - now
`;

const BLOCK = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > current then
  redis.call('SET', KEYS[1], until_, 'PX', tonumber(ARGV[1]) + 1000)
end
return until_
`;

type WithScripts = Redis & {
  labopsRateReserve(keyCount: number, ...args: string[]): Promise<unknown>;
  labopsRateBlock(keyCount: number, ...args: string[]): Promise<unknown>;
};

export class RedisRateLimiter implements RateLimiter {
  readonly #redis: WithScripts;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    // EVALSHA, falling back to EVAL once per connection: every paced chat call reserves a
    // slot, and EVAL would send the script's text (and Redis hash it) each time.
    redis.defineCommand("labopsRateReserve", { lua: RESERVE });
    redis.defineCommand("labopsRateBlock", { lua: BLOCK });
    this.#redis = redis as WithScripts;
    this.#prefix = prefix;
  }

  #key(key: string): string {
    return `${this.#prefix}:rate:${key}`;
  }

  async reserve(requests: readonly RateRequest[]): Promise<number> {
    if (requests.length === 0) return 0;
    const keys = requests.flatMap((r) => [this.#key(r.key), `${this.#key(r.key)}:until`]);
    const specs = requests.map((r) =>
      r.windows.map((w) => `${Math.max(1, Math.round(w.windowMs))}:${Math.max(1, w.max)}`).join(","),
    );
    const wait = await this.#redis.labopsRateReserve(keys.length, ...keys, randomUUID(), ...specs);
    return Math.max(0, Number(wait));
  }

  async block(key: string, forMs: number): Promise<void> {
    await this.#redis.labopsRateBlock(1, `${this.#key(key)}:until`, String(Math.max(1, Math.round(forMs))));
  }
}
