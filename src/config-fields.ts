import { z } from "zod";
import { CONFIG_VARIABLES } from "./config-variables.ts";

/** The building blocks of the configuration schema (src/config.ts): field parsers, their messages, their defaults. */

export const DURATION = /^(\d+)(m|h|d)$/;
export const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "90m", "8h", "2d" → milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  if (amount === undefined || unit === undefined) return undefined;
  return Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
}

export function defaultOf(name: string): string {
  const v = CONFIG_VARIABLES.find((c) => c.name === name);
  if (!v || v.default === "–") throw new Error(`${name} has no default`);
  return v.default;
}

export const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
export const optionalText = z.preprocess(blankToUndefined, z.string().optional());
export const textWithDefault = (name: string) =>
  z.preprocess(blankToUndefined, z.string().default(defaultOf(name)));
export const httpsUrl = (name: string, what: string) =>
  textWithDefault(name).pipe(
    z.string().refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), {
      message: `set an http(s) URL of ${what}`,
    }),
  );
export const duration = (name: string) =>
  textWithDefault(name).pipe(
    z.string().refine((v) => parseDuration(v) !== undefined, {
      message: "set a duration such as 90m, 8h or 2d",
    }),
  );
export const wholeNumber = (name: string, what: string, min: number, max: number) =>
  textWithDefault(name).pipe(
    z
      .string()
      .regex(/^\d+$/, { message: `set ${what}` })
      .transform(Number)
      .refine((n) => n >= min && n <= max, { message: `set ${what}` }),
  );

export const price = z.number().finite().nonnegative();
export const priceOverrides = z.record(
  z.string().regex(/^[a-z0-9]+$/i),
  z
    .object({
      vm: z.record(z.string(), price).optional(),
      clusterTier: z.record(z.string(), price).optional(),
      osDisk: price.optional(),
      loadBalancer: price.optional(),
      publicIp: price.optional(),
      vault: price.optional(),
    })
    .strict(),
);

export const REDIS_EXAMPLE = "redis://HOST:6379, or rediss://HOST:6380 for TLS (e.g. redis://127.0.0.1:6379)";

/** What is wrong with a REDIS_URL, in words that never quote it (it may hold a password). */
export function redisUrlProblem(value: string): string | undefined {
  if (!URL.canParse(value)) return `is not a URL: set ${REDIS_EXAMPLE}`;
  const url = new URL(value);
  if (!value.includes("://")) return `has no redis:// in front: set ${REDIS_EXAMPLE}`;
  if (!/^rediss?:$/.test(url.protocol)) {
    // The scheme alone is safe to echo, and says what went wrong.
    const scheme = /^[a-z][a-z0-9+.-]{0,15}:$/i.test(url.protocol) ? `${url.protocol}//` : "another scheme";
    return `starts with ${scheme} but labops speaks the Redis protocol: set ${REDIS_EXAMPLE}`;
  }
  if (url.hostname === "") return `names no host: set ${REDIS_EXAMPLE}`;
  return undefined;
}

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
