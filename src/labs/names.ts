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

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}
