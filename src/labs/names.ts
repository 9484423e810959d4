import { createHash } from "node:crypto";

/**
 * Naming rules. A lab name becomes part of every Azure and cluster name the
 * lab owns, so it is held to the narrowest rule among them (docs/ARCHITECTURE.md).
 */

export const LAB_NAME_RULE =
  "2 to 20 characters: lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen";
export const SECRET_NAME_RULE = "1 to 127 characters: letters, digits and hyphens (Key Vault's rule)";

const LAB_NAME = /^[a-z][a-z0-9-]{1,19}$/;
const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;

/** Undefined when valid, else why not (without the rule, which callers add). */
export function labNameProblem(name: string): string | undefined {
  if (name.length < 2) return "it is too short";
  if (name.length > 20) return `it has ${name.length} characters`;
  if (!/^[a-z]/.test(name)) return "it must start with a lowercase letter";
  if (!LAB_NAME.test(name)) return "it has characters other than lowercase letters, digits and hyphens";
  if (name.includes("--")) return "it has two hyphens in a row";
  if (name.endsWith("-")) return "it ends with a hyphen";
  return undefined;
}

export function isLabName(name: string): boolean {
  return labNameProblem(name) === undefined;
}

/**
 * A lab's short reference, `#` and 8 hex digits of the name's SHA-256: how an
 * admin names a lab whose stored name the parser refuses (kept from before
 * names were checked: `Zz-UPPER`, `../etc`, 700 KB of text), in
 * `lab destroy #1a2b3c4d`. `lab list` shows it next to such a lab.
 */
export function labRef(name: string): string {
  return `#${createHash("sha256").update(name, "utf8").digest("hex").slice(0, 8)}`;
}

const LAB_REF = /^#[0-9a-f]{8}$/;

export function isLabRef(text: string): boolean {
  return text.length === 9 && LAB_REF.test(text);
}

/** How to name a lab in a command: its name when valid, else its reference. */
export function labArg(name: string): string {
  return isLabName(name) ? name : labRef(name);
}

/** A stored name as chat shows it: valid names whole, any other cut to 40 characters (escaped by the renderer). */
export function shownLabName(name: string): string {
  return name.length <= 40 ? name : `${name.slice(0, 40)}…`;
}

/** Whether Azure takes `name` as a resource group name (1-90 of letters, digits, `-_.()`, not ending in `.`). */
export function isResourceGroupName(name: string): boolean {
  return /^[-\w.()]{1,90}$/.test(name) && !name.endsWith(".");
}

/** Whether Azure takes `name` as a Key Vault name (3-24 of letters, digits and single hyphens, from a letter). */
export function isVaultName(name: string): boolean {
  return /^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/.test(name) && !name.includes("--");
}

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}
