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
