/**
 * A stand-in for podinfo's web UI (stefanprodan/podinfo serves ui/vue.html at
 * `/` to browsers): a page whose background is the `color` of `api/info`
 * (PODINFO_UI_COLOR), with podinfo's message, the answering pod's hostname
 * and the version. It reads `api/info` relative to itself, as podinfo's UI
 * does, every second, so that a rollout shows as it happens. Beside what
 * podinfo shows, it lists the versions of the secrets mounted into that pod
 * from `api/mounts?pod=NAME` (versions only: values are never served).
 * No asset is fetched from outside (podinfo's logo is a GIF on GitHub).
 */
export function podinfoUiHtml(options: { title: string; subtitle: string }): string {
  const esc = (s: string) =>
    s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(options.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%2334577c'/%3E%3C/svg%3E">
<style>
  html, body { margin: 0; height: 100%; font: 16px/1.5 "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
  body { display: grid; place-items: center; background: #34577c; transition: background-color .6s; }
  .card { background: rgba(255,255,255,.94); border-radius: 12px; padding: 24px 28px; box-sizing: border-box; width: min(560px, calc(100vw - 40px));
          box-shadow: 0 10px 40px rgba(0,0,0,.25); text-align: center; color: #222; }
  .logo { font: 700 34px/1 "DejaVu Sans Mono", monospace; letter-spacing: -1px; color: #34577c; margin-bottom: 6px; }
  .swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; vertical-align: -2px; border: 1px solid rgba(0,0,0,.25); }
  h1 { font-size: 20px; margin: 8px 0 4px; }
  .host { font: 15px "DejaVu Sans Mono", monospace; color: #333; }
  .meta { color: #666; font-size: 13px; margin-top: 6px; }
  table { margin: 14px auto 0; border-collapse: collapse; font-size: 14px; }
  td, th { padding: 3px 10px; text-align: left; }
  th { color: #666; font-weight: 600; }
  td.v { font-family: "DejaVu Sans Mono", monospace; }
  .wait { color: #555; }
  .note { color: #777; font-size: 12px; margin-top: 14px; max-width: 480px; }
</style>
</head>
<body>
<main class="card" id="card">
  <div class="logo">podinfo</div>
  <h1 id="message" class="wait">waiting for a ready pod…</h1>
  <div class="host" id="hostname"></div>
  <div class="meta" id="meta"></div>
  <table id="mounts" hidden>
    <thead><tr><th>mounted from Key Vault</th><th>version</th></tr></thead>
    <tbody id="mount-rows"></tbody>
  </table>
  <div class="note">${esc(options.subtitle)}</div>
</main>
<script>
const $ = (id) => document.getElementById(id);
async function refresh() {
  try {
    const res = await fetch("api/info", { cache: "no-store" });
    const info = await res.json();
    if (!res.ok) throw new Error(info.message || "no pod answers");
    document.body.style.backgroundColor = "";
    document.body.style.backgroundColor = info.color;
    document.body.dataset.pod = info.hostname;
    $("message").textContent = info.message;
    $("message").className = "";
    $("hostname").textContent = info.hostname;
    $("meta").textContent = "podinfo v" + info.version + " · " + info.runtime + " · answered by this pod just now";
    const mounts = await (await fetch("api/mounts?pod=" + encodeURIComponent(info.hostname), { cache: "no-store" })).json();
    $("mount-rows").replaceChildren(...(mounts.objects || []).map((o) => {
      const tr = document.createElement("tr");
      for (const [text, cls] of [[o.name, ""], [o.version, "v"]]) {
        const td = document.createElement("td");
        td.textContent = text;
        td.className = cls;
        tr.append(td);
      }
      return tr;
    }));
    $("mounts").hidden = !(mounts.objects || []).length;
  } catch (error) {
    document.body.style.backgroundColor = "#777";
    delete document.body.dataset.pod;
    $("message").textContent = String(error.message || error);
    $("message").className = "wait";
    $("hostname").textContent = "";
    $("meta").textContent = "";
    $("mounts").hidden = true;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
}
