import { LAB_NAME_RULE, labNameProblem } from "../labs/names.ts";
import { duration, isResult, ok, reject, splitArgs, tooMany, USAGE, usageLine } from "./parse.ts";
import type { Word } from "./tokenize.ts";
import type { Command, ParseResult } from "./types.ts";

/**
 * `host create|status|destroy`: the host clusters labs share (see
 * src/labs/host-plan.ts). A host name follows the lab name rule, since it
 * becomes part of the host's resource group and cluster names.
 */

/** A host of 1 to 10 nodes: the lab's Standard_B2s runs about ten teams' podinfo per node. */
export const MAX_HOST_NODES = 10;
const HOST_VERBS = ["create", "status", "destroy"] as const;

function hostName(name: string, kind: Command["kind"]): ParseResult | undefined {
  const problem = labNameProblem(name);
  if (problem === undefined) return undefined;
  const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;
  return reject(
    `\`${shown}\` is not a valid host name (${problem}). A host name has ${LAB_NAME_RULE}. ${usageLine(kind)}`,
  );
}

export function parseHost(words: Word[], maxTtlMs: number): ParseResult {
  const [first, ...rest] = words;
  const verb = first?.text;
  switch (verb?.toLowerCase()) {
    case "create": {
      const args = splitArgs(rest, "host.create", ["nodes", "ttl"], []);
      if (isResult(args)) return args;
      const [name] = args.positional;
      if (name === undefined) return reject(`Which host? Give it a name. ${usageLine("host.create")}`);
      const bad = hostName(name, "host.create") ?? tooMany(args, 1, "host.create");
      if (bad) return bad;
      const nodes = args.flags.get("nodes");
      let nodeCount: number | undefined;
      if (typeof nodes === "string") {
        nodeCount = /^\d{1,3}$/.test(nodes) ? Number(nodes) : Number.NaN;
        if (!(nodeCount >= 1 && nodeCount <= MAX_HOST_NODES)) {
          return reject(
            `\`--nodes ${nodes.slice(0, 10)}\` is not a node count: use a whole number from 1 to ${MAX_HOST_NODES}. ${usageLine("host.create")}`,
          );
        }
      }
      const ttl = args.flags.get("ttl");
      let ttlMs: number | undefined;
      if (typeof ttl === "string") {
        const d = duration(ttl, "ttl", "host.create", maxTtlMs);
        if ("rejection" in d) return d.rejection;
        ttlMs = d.ms;
      }
      return ok({ kind: "host.create", host: name, nodeCount, ttlMs });
    }
    case "status":
    case "list":
    case "ls": {
      const args = splitArgs(rest, "host.status", [], []);
      if (isResult(args)) return args;
      const [name] = args.positional;
      const bad =
        (name !== undefined ? hostName(name, "host.status") : undefined) ?? tooMany(args, 1, "host.status");
      if (bad) return bad;
      return ok({ kind: "host.status", host: name });
    }
    case "destroy":
    case "delete": {
      const args = splitArgs(rest, "host.destroy", [], ["force", "yes"]);
      if (isResult(args)) return args;
      const [name] = args.positional;
      if (name === undefined) return reject(`Which host? ${usageLine("host.destroy")}`);
      const bad = hostName(name, "host.destroy") ?? tooMany(args, 1, "host.destroy");
      if (bad) return bad;
      return ok({
        kind: "host.destroy",
        host: name,
        force: args.flags.get("force") === true,
        confirmed: args.flags.get("yes") === true,
      });
    }
    case "help":
    case undefined:
      return ok({ kind: "help", topic: "host" });
    default:
      return reject(
        `\`host ${(verb ?? "").slice(0, 30)}\` is not a command. The host commands are ${HOST_VERBS.map((v) => `\`host ${v}\``).join(", ")}; for example \`${USAGE["host.create"]}\`. Say \`help\` for more.`,
      );
  }
}

/** Teams of a workshop: each becomes lab `PREFIX-N`, so the prefix leaves room for the number. */
export const MAX_WORKSHOP_TEAMS = 30;
const MAX_PREFIX = 17;

/** `workshop create|status|destroy PREFIX`: a host and labs PREFIX-1 … PREFIX-N on it. */
export function parseWorkshop(words: Word[], maxTtlMs: number): ParseResult {
  const [first, ...rest] = words;
  const verb = first?.text.toLowerCase();
  if (verb === undefined || verb === "help") return ok({ kind: "help", topic: "host" });
  const kind =
    verb === "create"
      ? "workshop.create"
      : verb === "destroy" || verb === "delete"
        ? "workshop.destroy"
        : "workshop.status";
  if (!["create", "destroy", "delete", "status"].includes(verb)) {
    return reject(
      `\`workshop ${(first?.text ?? "").slice(0, 30)}\` is not a command. The workshop commands are \`workshop create\`, \`workshop status\`, \`workshop destroy\`; for example \`${USAGE["workshop.create"]}\`.`,
    );
  }
  const args = splitArgs(
    rest,
    kind,
    kind === "workshop.create" ? ["teams", "on", "host", "ttl"] : [],
    kind === "workshop.destroy" ? ["yes"] : [],
  );
  if (isResult(args)) return args;
  const [prefix] = args.positional;
  if (prefix === undefined) return reject(`Which workshop? Give its prefix. ${usageLine(kind)}`);
  const bad =
    hostName(prefix, kind) ??
    (prefix.length > MAX_PREFIX
      ? reject(
          `\`${prefix}\` is too long for a workshop prefix: at most ${MAX_PREFIX} characters, so that \`${prefix.slice(0, MAX_PREFIX)}-30\` is a lab name. ${usageLine(kind)}`,
        )
      : undefined) ??
    tooMany(args, 1, kind);
  if (bad) return bad;
  if (kind === "workshop.status") return ok({ kind, prefix });
  if (kind === "workshop.destroy") return ok({ kind, prefix, confirmed: args.flags.get("yes") === true });
  const teams = args.flags.get("teams");
  const count = typeof teams === "string" && /^\d{1,3}$/.test(teams) ? Number(teams) : Number.NaN;
  if (!(count >= 1 && count <= MAX_WORKSHOP_TEAMS)) {
    return reject(
      `${typeof teams === "string" ? `\`--teams ${teams.slice(0, 10)}\` is not a team count` : "How many teams? `--teams` is needed"}: use a whole number from 1 to ${MAX_WORKSHOP_TEAMS}. ${usageLine(kind)}`,
    );
  }
  if (args.flags.has("on") && args.flags.has("host")) {
    return reject(`\`--on\` and \`--host\` are the same option: give one. ${usageLine(kind)}`);
  }
  const host = args.flags.get("on") ?? args.flags.get("host");
  if (typeof host === "string") {
    const badHost = hostName(host, kind);
    if (badHost) return badHost;
  }
  const ttl = args.flags.get("ttl");
  let ttlMs: number | undefined;
  if (typeof ttl === "string") {
    const d = duration(ttl, "ttl", kind, maxTtlMs);
    if ("rejection" in d) return d.rejection;
    ttlMs = d.ms;
  }
  return ok({ kind, prefix, teams: count, host: typeof host === "string" ? host : undefined, ttlMs });
}
