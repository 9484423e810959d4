import { typedOn } from "../chat/hints.ts";
import type { Platform } from "../ports/chat.ts";
import { USAGE } from "./parse.ts";

/**
 * What each command does, by kind. Every command of USAGE is listed by
 * `help`, grouped by its first word (lab, secret, and any other family such
 * as host or admin), whether or not it has a line here.
 */
const DOES: Readonly<Record<string, string>> = {
  "lab.create":
    "build a lab: AKS with workload identity, Key Vault, the CSI driver with rotation, Reloader and podinfo",
  "lab.status": "what exists in Azure and in the cluster, and which secret versions each pod runs",
  "lab.list": "the labs and who owns them",
  "lab.extend": "push back the lab's expiry",
  "lab.grant":
    "let a team member do what the owner may on this lab: destroy, extend, rotate and roll back its secrets (owner or admin, in the lab's conversation; up to 20 members)",
  "lab.revoke": "take a member's rights on the lab back (owner or admin)",
  "lab.destroy":
    "delete everything (owner or admin, after a confirmation); an admin removes a lab whose name is not valid by the reference `lab list` shows: `lab destroy #1a2b3c4d`",
  "secret.rotate": "write a new version and follow it to every pod (leave out VALUE to type it privately)",
  "secret.list": "names, current versions and update times (never values)",
  "secret.rollback": "make the previous version current again",
  // Host clusters and workshops (issue 16).
  "host.create":
    "a cluster labs share, with no team in it (admins); `lab create NAME --on HOST` puts a lab in its own namespace there",
  "host.status": "the host's cluster and the labs on it, or every host",
  "host.destroy":
    "delete it (admins, after a confirmation); refused while labs live on it unless `--force`, which destroys them first",
  "workshop.create":
    "a host (named PREFIX unless `--on`) and labs PREFIX-1 … PREFIX-N on it, one card with a row per team (admins)",
  "workshop.status": "the workshop's card again",
  "workshop.destroy": "every team's lab, then the workshop's host (admins, after a confirmation)",
};

const SECTION: Readonly<Record<string, string>> = {
  lab: "Labs",
  secret: "Secrets",
  host: "Host clusters",
  workshop: "Workshops",
  admin: "Admins only",
};

/** The families in the order help shows them: the asked-for one first, then lab, secret, the rest. */
function families(topic: string | undefined): string[] {
  const all = [...new Set(Object.keys(USAGE).map((kind) => kind.split(".")[0] ?? kind))].filter(
    (f) => f !== "help",
  );
  const rank = (f: string) =>
    f === topic ? -1 : f === "lab" ? 0 : f === "secret" ? 1 : f === "admin" ? 3 : 2;
  return all.sort((a, b) => rank(a) - rank(b));
}

/**
 * The help text, as Markdown both Slack (mrkdwn) and Teams render: every
 * command, each as it is typed on `platform` (`/lab create …` in Slack,
 * `@labops lab create …` in Teams). `topic` (`lab help`, `secret help`) puts
 * its family first; nothing is left out.
 */
export function helpText(topic: string | undefined, platform: Platform = "slack"): string {
  const lines: string[] = [];
  for (const family of families(topic)) {
    const kinds = Object.keys(USAGE).filter((k) => k.startsWith(`${family}.`)) as Array<keyof typeof USAGE>;
    lines.push(`*${SECTION[family] ?? family}*`);
    for (const kind of kinds) {
      const does = DOES[kind];
      lines.push(`• \`${typedOn(USAGE[kind], platform)}\`${does ? ` ${asTyped(does, platform)}` : ""}`);
    }
  }
  lines.push("`--lab NAME` can be left out when the conversation has one lab.");
  lines.push(
    platform === "slack"
      ? `In Slack, commands are slash commands: ${families(undefined)
          .map((f) => `\`/${f} …\``)
          .join(", ")}.`
      : `In a Teams channel, mention the bot: \`${typedOn("lab …", platform)}\`.`,
  );
  return lines.join("\n");
}

/** Commands quoted inside a description, as they are typed on `platform` (`/lab destroy …` in Slack). */
function asTyped(text: string, platform: Platform): string {
  return text.replace(
    /`((?:lab|secret|host|workshop) [^`]+)`/g,
    (_, command: string) => `\`${typedOn(command, platform)}\``,
  );
}
