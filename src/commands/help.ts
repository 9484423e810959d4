import { USAGE } from "./parse.ts";

const LAB_HELP = [
  `\`${USAGE["lab.create"]}\` build a lab: AKS with workload identity, Key Vault, the CSI driver with rotation, Reloader and podinfo`,
  `\`${USAGE["lab.status"]}\` what exists in Azure and in the cluster, and which secret versions each pod runs`,
  `\`${USAGE["lab.list"]}\` the labs and who owns them`,
  `\`${USAGE["lab.extend"]}\` push back the lab's expiry`,
  `\`${USAGE["lab.destroy"]}\` delete everything (owner or admin, after a confirmation); an admin removes a lab whose name is not valid by the reference \`lab list\` shows: \`lab destroy #1a2b3c4d\``,
];

const SECRET_HELP = [
  `\`${USAGE["secret.rotate"]}\` write a new version and follow it to every pod (leave out VALUE to type it privately)`,
  `\`${USAGE["secret.list"]}\` names, current versions and update times (never values)`,
  `\`${USAGE["secret.rollback"]}\` make the previous version current again`,
];

/** The help text, as Markdown both Slack (mrkdwn) and Teams render. */
export function helpText(topic: "lab" | "secret" | undefined): string {
  const lines: string[] = [];
  if (topic !== "secret") lines.push("*Labs*", ...LAB_HELP.map((l) => `• ${l}`));
  if (topic !== "lab") lines.push("*Secrets*", ...SECRET_HELP.map((l) => `• ${l}`));
  if (topic === undefined) {
    lines.push("`--lab NAME` can be left out when the channel has one lab.");
  }
  return lines.join("\n");
}
