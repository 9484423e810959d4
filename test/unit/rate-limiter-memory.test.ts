import { rateLimiterContract } from "../contract/rate-limiter.contract.ts";
import { InMemoryRateLimiter } from "../fakes/rate-limiter.ts";

let now = 1_000_000;
rateLimiterContract("InMemoryRateLimiter", () => new InMemoryRateLimiter({ now: () => now++ }));
