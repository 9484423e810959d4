import { verbatim } from "../chat/markup.ts";
import { parseDuration } from "../config.ts";
import { isLabRef, isSecretName, LAB_NAME_RULE, labNameProblem, SECRET_NAME_RULE } from "../labs/names.ts";
import { SecretValue } from "../secret-value.ts";
import { parseMember } from "./members.ts";
import { parseHost, parseWorkshop } from "./parse-host.ts";
import { tokenize, type Word } from "./tokenize.ts";
import type { Command, ParseResult } from "./types.ts";

/** Key Vault refuses secret values over 25 KB. */
export const MAX_SECRET_VALUE_BYTES = 25 * 1024;
const MIN_TTL_MS = 30 * 60_000;
const DEFAULT_MAX_TTL_MS = 7 * 86_400_000;
const MAX_INPUT_CHARS = 40_000;

export interface ParseOptions {
  /** Longest `--ttl` accepted (LABOPS_MAX_TTL). */
  maxTtlMs?: number;
}

export const USAGE = {
  "lab.create": "lab create NAME [--on HOST] [--ttl 8h]",
  "lab.destroy": "lab destroy NAME",
  "lab.status": "lab status [NAME]",
  "lab.list": "lab list",
  "lab.extend": "lab extend NAME [--by 4h]",
  "lab.grant": "lab grant NAME @user",
  "lab.revoke": "lab revoke NAME @user",
  "secret.rotate": "secret rotate NAME [VALUE] [--lab NAME] [--new]",
  "secret.list": "secret list [--lab NAME]",
  "secret.rollback": "secret rollback NAME [--lab NAME]",
  "host.create": "host create NAME [--nodes 3] [--ttl 8h]",
  "host.status": "host status [NAME]",
  "host.destroy": "host destroy NAME [--force]",
  "workshop.create": "workshop create PREFIX --teams N [--on HOST] [--ttl 8h]",
  "workshop.status": "workshop status PREFIX",
  "workshop.destroy": "workshop destroy PREFIX",
  help: "help",
} as const satisfies Record<Command["kind"], string>;

const EXAMPLE = {
  "lab.create": "lab create team-a --ttl 8h",
  "lab.destroy": "lab destroy team-a",
  "lab.status": "lab status team-a",
  "lab.list": "lab list",
  "lab.extend": "lab extend team-a --by 4h",
  "lab.grant": "lab grant team-a @jane",
  "lab.revoke": "lab revoke team-a @jane",
  "secret.rotate": "secret rotate color orange --lab team-a",
  "secret.list": "secret list --lab team-a",
  "secret.rollback": "secret rollback color --lab team-a",
  "host.create": "host create workshop --nodes 3 --ttl 8h",
  "host.status": "host status workshop",
  "host.destroy": "host destroy workshop",
  "workshop.create": "workshop create ws --teams 10",
  "workshop.status": "workshop status ws",
  "workshop.destroy": "workshop destroy ws",
  help: "help",
} as const satisfies Record<Command["kind"], string>;

const LAB_VERBS = ["create", "destroy", "status", "list", "extend", "grant", "revoke"] as const;
const SECRET_VERBS = ["rotate", "list", "rollback"] as const;

export function reject(message: string): ParseResult {
  return { ok: false, rejection: { message } };
}

export function ok(command: Command): ParseResult {
  return { ok: true, command };
}

export function usageLine(kind: Command["kind"]): string {
  return `Usage: \`${USAGE[kind]}\`, for example \`${EXAMPLE[kind]}\`.`;
}

export interface Args {
  positional: string[];
  flags: Map<string, string | true>;
}

/** Splits words into positionals and `--flag value` / `--flag=value` / `--yes` flags. */
export function splitArgs(
  words: Word[],
  kind: Command["kind"],
  valued: readonly string[],
  booleans: readonly string[],
): Args | ParseResult {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < words.length; i++) {
    const { text: word, quoted } = words[i] ?? { text: "", quoted: false };
    const isFlag = !quoted && ((word.startsWith("--") && word.length > 2) || word === "-y");
    if (!isFlag) {
      positional.push(word);
      continue;
    }
    const raw = word === "-y" ? "yes" : word.slice(2);
    const eq = raw.indexOf("=");
    const name = (eq >= 0 ? raw.slice(0, eq) : raw).toLowerCase();
    if (!valued.includes(name) && !booleans.includes(name)) {
      // Never echoed: an unknown option may be a value typed in the wrong place.
      const known = [...valued, ...booleans].map((f) => `--${f}`);
      const allowed = known.length > 0 ? `it takes ${known.join(", ")}` : "it takes no options";
      return reject(`Unknown option for \`${USAGE[kind]}\`: ${allowed}. ${usageLine(kind)}`);
    }
    // A repeated option is refused rather than silently taking the last one.
    if (flags.has(name)) {
      return reject(`\`--${name}\` is given twice: give it once. ${usageLine(kind)}`);
    }
    if (booleans.includes(name)) {
      flags.set(name, true);
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) {
      value = raw.slice(eq + 1);
    } else {
      value = words[i + 1]?.text;
      i++;
    }
    if (value === undefined || value === "") {
      return reject(`\`--${name}\` needs a value. ${usageLine(kind)}`);
    }
    flags.set(name, value);
  }
  return { positional, flags };
}

export function isResult(x: Args | ParseResult): x is ParseResult {
  return "ok" in x;
}

function labName(name: string, kind: Command["kind"]): ParseResult | undefined {
  const problem = labNameProblem(name);
  if (problem === undefined) return undefined;
  const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;
  return reject(
    `\`${verbatim(shown)}\` is not a valid lab name (${problem}). A lab name has ${LAB_NAME_RULE}. ${usageLine(kind)}`,
  );
}

function secretName(name: string, kind: Command["kind"]): ParseResult | undefined {
  if (isSecretName(name)) return undefined;
  const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;
  return reject(
    `\`${verbatim(shown)}\` is not a valid secret name. A secret name has ${SECRET_NAME_RULE}. ${usageLine(kind)}`,
  );
}

export function duration(
  text: string,
  flag: string,
  kind: Command["kind"],
  maxMs: number,
): { ms: number } | { rejection: ParseResult } {
  const ms = parseDuration(text);
  const limits = `between 30m and ${formatDuration(maxMs)}`;
  if (ms === undefined) {
    return {
      rejection: reject(
        `\`${verbatim(text.slice(0, 20))}\` is not a duration for \`--${flag}\`: use minutes, hours or days such as 90m, 8h or 2d, ${limits}. ${usageLine(kind)}`,
      ),
    };
  }
  if (ms < MIN_TTL_MS || ms > maxMs) {
    return {
      rejection: reject(`\`--${flag} ${verbatim(text)}\` is out of range: use ${limits}. ${usageLine(kind)}`),
    };
  }
  return { ms };
}

export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return `${Math.round(ms / 60_000)}m`;
}

export function tooMany(args: Args, max: number, kind: Command["kind"]): ParseResult | undefined {
  if (args.positional.length <= max) return undefined;
  if (kind === "secret.rotate") {
    // The extra words are most likely the rest of a value typed without quotes: never echo them.
    return reject(
      `A value with spaces must be in quotes. ${usageLine(kind)} (or \`secret rotate color "dark orange"\`).`,
    );
  }
  const extra = verbatim(args.positional.slice(max).join(" ").slice(0, 40));
  return reject(`I did not expect \`${extra}\` after \`${USAGE[kind]}\`. ${usageLine(kind)}`);
}

function optionalLab(args: Args, kind: Command["kind"]): { lab: string | undefined } | ParseResult {
  const lab = args.flags.get("lab");
  if (typeof lab !== "string") return { lab: undefined };
  return labName(lab, kind) ?? { lab };
}

function parseLab(words: Word[], options: ParseOptions): ParseResult {
  const [first, ...rest] = words;
  const verb = first?.text;
  const maxTtl = options.maxTtlMs ?? DEFAULT_MAX_TTL_MS;
  switch (verb?.toLowerCase()) {
    case "create": {
      const args = splitArgs(rest, "lab.create", ["ttl", "on", "host"], []);
      if (isResult(args)) return args;
      const [name] = args.positional;
      if (name === undefined) return reject(`Which lab? Give it a name. ${usageLine("lab.create")}`);
      const bad = labName(name, "lab.create") ?? tooMany(args, 1, "lab.create");
      if (bad) return bad;
      const host = hostOption(args);
      if (typeof host === "object") return host;
      const ttl = args.flags.get("ttl");
      let ttlMs: number | undefined;
      if (typeof ttl === "string") {
        const d = duration(ttl, "ttl", "lab.create", maxTtl);
        if ("rejection" in d) return d.rejection;
        ttlMs = d.ms;
      }
      return ok({ kind: "lab.create", lab: name, ttlMs, ...(host === undefined ? {} : { host }) });
    }
    case "destroy":
    case "delete": {
      const args = splitArgs(rest, "lab.destroy", [], ["yes"]);
      if (isResult(args)) return args;
      const [name] = args.positional;
      if (name === undefined) return reject(`Which lab? ${usageLine("lab.destroy")}`);
      // `#1a2b3c4d`: a lab by its reference, for an admin removing a lab whose stored name is not valid.
      const bad =
        (isLabRef(name) ? undefined : labName(name, "lab.destroy")) ?? tooMany(args, 1, "lab.destroy");
      if (bad) return bad;
      return ok({ kind: "lab.destroy", lab: name, confirmed: args.flags.get("yes") === true });
    }
    case "status": {
      const args = splitArgs(rest, "lab.status", [], []);
      if (isResult(args)) return args;
      const [name] = args.positional;
      const bad =
        (name !== undefined ? labName(name, "lab.status") : undefined) ?? tooMany(args, 1, "lab.status");
      if (bad) return bad;
      return ok({ kind: "lab.status", lab: name });
    }
    case "list":
    case "ls": {
      const args = splitArgs(rest, "lab.list", [], []);
      if (isResult(args)) return args;
      return tooMany(args, 0, "lab.list") ?? ok({ kind: "lab.list" });
    }
    case "extend": {
      const args = splitArgs(rest, "lab.extend", ["by", "ttl"], []);
      if (isResult(args)) return args;
      const [name] = args.positional;
      if (name === undefined) return reject(`Which lab? ${usageLine("lab.extend")}`);
      const bad = labName(name, "lab.extend") ?? tooMany(args, 1, "lab.extend");
      if (bad) return bad;
      if (args.flags.has("by") && args.flags.has("ttl")) {
        return reject(
          `\`--by\` and \`--ttl\` are the same option here: give one. ${usageLine("lab.extend")}`,
        );
      }
      const by = args.flags.get("by") ?? args.flags.get("ttl");
      let byMs: number | undefined;
      if (typeof by === "string") {
        const d = duration(by, "by", "lab.extend", maxTtl);
        if ("rejection" in d) return d.rejection;
        byMs = d.ms;
      }
      return ok({ kind: "lab.extend", lab: name, byMs });
    }
    case "grant":
    case "revoke": {
      const kind = verb?.toLowerCase() === "grant" ? "lab.grant" : "lab.revoke";
      const args = splitArgs(rest, kind, [], []);
      if (isResult(args)) return args;
      const [name, ...who] = args.positional;
      if (name === undefined) return reject(`Which lab? ${usageLine(kind)}`);
      return labName(name, kind) ?? parseMember(kind, name, who, usageLine(kind));
    }
    case "help":
    case undefined:
      return ok({ kind: "help", topic: "lab" });
    default:
      return reject(
        `\`lab ${verbatim((verb ?? "").slice(0, 30))}\` is not a command. The lab commands are ${LAB_VERBS.map((v) => `\`lab ${v}\``).join(", ")}; for example \`${EXAMPLE["lab.create"]}\`. Say \`help\` for more.`,
      );
  }
}

/** `--on HOST` (or its alias `--host HOST`): the host cluster a lab goes on. */
function hostOption(args: Args): string | undefined | ParseResult {
  if (args.flags.has("on") && args.flags.has("host")) {
    return reject(`\`--on\` and \`--host\` are the same option: give one. ${usageLine("lab.create")}`);
  }
  const host = args.flags.get("on") ?? args.flags.get("host");
  if (typeof host !== "string") return undefined;
  const problem = labNameProblem(host);
  if (problem === undefined) return host;
  return reject(
    `\`${host.slice(0, 40)}\` is not a valid host name (${problem}). A host name has ${LAB_NAME_RULE}. ${usageLine("lab.create")}`,
  );
}

function parseSecret(words: Word[]): ParseResult {
  const [first, ...rest] = words;
  const verb = first?.text;
  switch (verb?.toLowerCase()) {
    case "rotate":
    case "set": {
      const args = splitArgs(rest, "secret.rotate", ["lab"], ["new"]);
      if (isResult(args)) return args;
      const [name, value] = args.positional;
      if (name === undefined) return reject(`Which secret? ${usageLine("secret.rotate")}`);
      const bad = secretName(name, "secret.rotate") ?? tooMany(args, 2, "secret.rotate");
      if (bad) return bad;
      const lab = optionalLab(args, "secret.rotate");
      if ("ok" in lab) return lab;
      if (value !== undefined && Buffer.byteLength(value, "utf8") > MAX_SECRET_VALUE_BYTES) {
        return reject(
          `That value is over Key Vault's limit of 25 KB (${MAX_SECRET_VALUE_BYTES} bytes). Use a shorter value. ${usageLine("secret.rotate")}`,
        );
      }
      if (value === "") {
        return reject(`A secret value cannot be empty. ${usageLine("secret.rotate")}`);
      }
      return ok({
        kind: "secret.rotate",
        secret: name,
        value: value === undefined ? undefined : new SecretValue(value),
        lab: lab.lab,
        ...(args.flags.get("new") === true ? { create: true } : {}),
      });
    }
    case "list":
    case "ls": {
      const args = splitArgs(rest, "secret.list", ["lab"], []);
      if (isResult(args)) return args;
      const bad = tooMany(args, 0, "secret.list");
      if (bad) return bad;
      const lab = optionalLab(args, "secret.list");
      if ("ok" in lab) return lab;
      return ok({ kind: "secret.list", lab: lab.lab });
    }
    case "rollback": {
      const args = splitArgs(rest, "secret.rollback", ["lab"], []);
      if (isResult(args)) return args;
      const [name] = args.positional;
      if (name === undefined) return reject(`Which secret? ${usageLine("secret.rollback")}`);
      const bad = secretName(name, "secret.rollback") ?? tooMany(args, 1, "secret.rollback");
      if (bad) return bad;
      const lab = optionalLab(args, "secret.rollback");
      if ("ok" in lab) return lab;
      return ok({ kind: "secret.rollback", secret: name, lab: lab.lab });
    }
    case "help":
    case undefined:
      return ok({ kind: "help", topic: "secret" });
    default:
      return reject(
        `\`secret ${verbatim((verb ?? "").slice(0, 30))}\` is not a command. The secret commands are ${SECRET_VERBS.map((v) => `\`secret ${v}\``).join(", ")}; for example \`${EXAMPLE["secret.rotate"]}\`. Say \`help\` for more.`,
      );
  }
}

/** Parses "lab …", "secret …" or "help". Never throws. */
export function parseCommandText(text: string, options: ParseOptions = {}): ParseResult {
  try {
    if (text.length > MAX_INPUT_CHARS) {
      return reject(
        `That command is too long. Secret values are limited to 25 KB. ${usageLine("secret.rotate")}`,
      );
    }
    const words = tokenize(text);
    const [first, ...rest] = words;
    const head = first?.text;
    switch (head?.toLowerCase()) {
      case "lab":
      case "labs":
        return parseLab(rest, options);
      case "secret":
      case "secrets":
        return parseSecret(rest);
      case "host":
      case "hosts":
        return parseHost(rest, options.maxTtlMs ?? DEFAULT_MAX_TTL_MS);
      case "workshop":
        return parseWorkshop(rest, options.maxTtlMs ?? DEFAULT_MAX_TTL_MS);
      case "help":
      case "?":
        return ok({ kind: "help", topic: undefined });
      case undefined:
        return ok({ kind: "help", topic: undefined });
      default:
        return reject(
          `I did not understand \`${verbatim((head ?? "").slice(0, 30))}\`. Start with \`lab\` or \`secret\`, for example \`${EXAMPLE["lab.create"]}\` or \`${EXAMPLE["secret.rotate"]}\`, or say \`help\`.`,
        );
    }
  } catch {
    // The parser is total by design; this is a last guard so a chat request never fails on input.
    return reject(`I could not read that command. Say \`help\` to see what I understand.`);
  }
}

/** A Slack slash command: `/lab` with text `create team-a`. */
export function parseSlashCommand(slash: string, text: string, options: ParseOptions = {}): ParseResult {
  const name = slash.replace(/^\//, "").toLowerCase();
  if (!["lab", "secret", "host", "workshop", "labops"].includes(name)) {
    return reject(
      `\`/${verbatim(name.slice(0, 30))}\` is not a labops command: use \`/lab\` or \`/secret\`.`,
    );
  }
  return parseCommandText(name === "labops" ? text : `${name} ${text}`, options);
}

/**
 * Message text from Teams or a Slack mention: an optional leading @mention
 * (`<at>labops</at>`, `<@U123>`, `@labops`) and an optional leading `/`.
 */
export function parseMessageText(text: string, options: ParseOptions = {}): ParseResult {
  const stripped = text
    .replace(/&nbsp;/g, " ")
    .trim()
    .replace(/^(?:<at>[^<]{0,100}<\/at>|<@[A-Z0-9]{1,30}(?:\|[^>]{0,80})?>|@[\w.-]{1,80})[\s,:]*/i, "")
    .trim()
    .replace(/^\//, "");
  return parseCommandText(stripped, options);
}
