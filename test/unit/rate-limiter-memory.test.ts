import { InMemoryRateLimiter } from "../../src/chat/memory-limiter.ts";
import { rateLimiterContract } from "../contract/rate-limiter.contract.ts";

let now = 1_000_000;
rateLimiterContract("InMemoryRateLimiter", () => new InMemoryRateLimiter({ now: () => now++ }));
