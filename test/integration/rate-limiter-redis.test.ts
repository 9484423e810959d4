import { Redis } from "ioredis";
import { afterAll } from "vitest";
import { RedisRateLimiter } from "../../adapters/redis/rate-limiter.ts";
import { rateLimiterContract } from "../contract/rate-limiter.contract.ts";
import { REDIS_URL, uniquePrefix } from "../helpers/env.ts";

const redis = new Redis(REDIS_URL);
afterAll(() => redis.disconnect());
rateLimiterContract("RedisRateLimiter", () => new RedisRateLimiter(redis, uniquePrefix("rate")));
