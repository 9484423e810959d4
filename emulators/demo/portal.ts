import type { EmulatedCloud } from "../world.ts";

/**
 * The demo's stand-in for "Open in Azure portal": the real portal knows
 * nothing of emulated ids, so the page links here instead, to what the Azure
 * emulator holds under the resource (a resource group: everything in it).
 * Names, types, states and secret versions; never a secret value.
 */
const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export function portalPage(cloud: EmulatedCloud, resourceId: string): string {
  const id = resourceId.replace(/\/+$/, "").toLowerCase();
  const inventory = cloud.azure.inventory();
  const resources = id
    ? inventory.resources.filter((r) => r.id.toLowerCase() === id || r.id.toLowerCase().startsWith(`${id}/`))
    : [];
  const rows = resources
    .map((r) => {
      const secrets = (r.secrets ?? [])
        .filter((s) => !s.deleted)
        .map((s) => `${esc(s.name)} (${s.versions.length} version${s.versions.length === 1 ? "" : "s"})`)
        .join(", ");
      return `<tr><td>${esc(r.name)}</td><td>${esc(r.type)}</td><td>${esc(r.state ?? "")}</td><td>${secrets}</td></tr>`;
    })
    .join("");
  const name = id.split("/").at(-1) ?? "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(name)} · emulated Azure portal</title>
<link rel="icon" href="/favicon.svg">
<style>
  body { margin: 0; font: 14px/1.5 "Segoe UI", "DejaVu Sans", Arial, sans-serif; color: #323130; }
  header { background: #0078d4; color: #fff; padding: 10px 20px; font-weight: 600; }
  .banner { background: #fff4ce; border-bottom: 1px solid #f2d46b; padding: 8px 20px; }
  main { padding: 16px 20px; }
  h1 { font-size: 22px; font-weight: 600; margin: 0 0 4px; }
  .id { color: #605e5c; font: 12px "DejaVu Sans Mono", monospace; word-break: break-all; }
  table { border-collapse: collapse; margin-top: 16px; min-width: 720px; }
  th, td { text-align: left; padding: 6px 12px; border-bottom: 1px solid #edebe9; vertical-align: top; }
  th { color: #605e5c; font-weight: 600; }
</style></head>
<body>
<header>Microsoft Azure <small>(emulated)</small></header>
<div class="banner">This is the demo's emulated Azure: the real portal would not know these ids. What the Azure emulator holds for this resource is below.</div>
<main>
<h1>${esc(name || "No resource")}</h1>
<div class="id">${esc(resourceId)}</div>
${
  resources.length
    ? `<table><thead><tr><th>Name</th><th>Type</th><th>State</th><th>Secrets (names and versions only)</th></tr></thead><tbody>${rows}</tbody></table>`
    : "<p>Nothing of that id exists in the emulated subscription (any more).</p>"
}
</main></body></html>
`;
}
