import { USAGE } from "./parse.ts";

const LAB_HELP = [
  `\`${USAGE["lab.create"]}\` build a lab: AKS with workload identity, Key Vault, the CSI driver with rotation, Reloader and podinfo`,
  `\`${USAGE["lab.status"]}\` what exists in Azure and in the cluster, and which secret versions each pod runs`,
  `\`${USAGE["lab.list"]}\` the labs and who owns them`,
  `\`${USAGE["lab.extend"]}\` push back the lab's expiry`,
  `\`${USAGE["lab.destroy"]}\` delete everything (owner or admin, after a confirmation)`,
];

const SECRET_HELP = [
  `\`${USAGE["secret.rotate"]}\` write a new version and follow it to every pod (leave out VALUE to type it privately)`,
  `\`${USAGE["secret.list"]}\` names, current versions and update times (never values)`,
  `\`${USAGE["secret.rollback"]}\` make the previous version current again`,
];

// Host clusters (issue 16): kept as its own block so the other help texts can change around it.
const HOST_HELP = [
  `\`${USAGE["lab.create"].replace(" [--ttl 8h]", "")}\` with \`--on HOST\`: the lab in its own namespace of a host cluster, ready in a few minutes`,
  `\`${USAGE["host.create"]}\` a cluster labs share, with no team in it (admins)`,
  `\`${USAGE["host.status"]}\` the host's cluster and the labs on it`,
  `\`${USAGE["host.destroy"]}\` delete it (admins, after a confirmation); refused while labs live on it unless \`--force\`, which destroys them first`,
  `\`${USAGE["workshop.create"]}\` a host (named PREFIX unless \`--on\`) and labs PREFIX-1 … PREFIX-N on it, one card with a row per team (admins)`,
  `\`${USAGE["workshop.status"]}\` that card again; \`${USAGE["workshop.destroy"]}\` every team's lab, then the workshop's host (admins, confirmed)`,
];

/** The help text, as Markdown both Slack (mrkdwn) and Teams render. */
export function helpText(topic: "lab" | "secret" | "host" | undefined): string {
  const lines: string[] = [];
  if (topic === "lab" || topic === undefined) lines.push("*Labs*", ...LAB_HELP.map((l) => `• ${l}`));
  if (topic === "secret" || topic === undefined) lines.push("*Secrets*", ...SECRET_HELP.map((l) => `• ${l}`));
  if (topic === "host" || topic === undefined)
    lines.push("*Host clusters*", ...HOST_HELP.map((l) => `• ${l}`));
  if (topic === undefined) {
    lines.push("`--lab NAME` can be left out when the channel has one lab.");
  }
  return lines.join("\n");
}
