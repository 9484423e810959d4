import { Redis } from "ioredis";
import { afterAll } from "vitest";
import { RedisCapacityReservations } from "../../adapters/redis/capacity-reservations.ts";
import { capacityReservationsContract } from "../contract/capacity-reservations.contract.ts";
import { REDIS_URL, uniquePrefix } from "../helpers/env.ts";

const redis = new Redis(REDIS_URL);
afterAll(() => redis.disconnect());
capacityReservationsContract(
  "RedisCapacityReservations",
  () => new RedisCapacityReservations(redis, uniquePrefix("cap")),
);
