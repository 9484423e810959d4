// The demo's trace page: GET /api/trace (the last lab create's trace, laid out by emulators/demo/trace.ts)
// drawn as a waterfall; refreshed every two seconds while the lab is being made. Text only through
// textContent: span names and facts come from the bot.

const $ = (id) => document.getElementById(id);
let last = "";

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function ms(v) {
  return v >= 1000 ? `${(v / 1000).toFixed(v >= 10_000 ? 1 : 2)} s` : `${Math.round(v)} ms`;
}

function roleClass(row) {
  if (row.status === "error") return "err";
  if (row.critical) return "crit";
  if (row.sdk) return "sdk";
  return /web/.test(row.service) || row.kind === "server" || row.name === "labops.enqueue" ? "web" : "worker";
}

function draw(trace) {
  const summary = $("summary");
  const box = $("waterfall");
  if (!trace.rows) {
    $("legend").hidden = true;
    box.replaceChildren();
    return;
  }
  const showSdk = $("show-sdk").checked;
  const total = Math.max(trace.durationMs, 1);
  const h1 = el("h1", "", `${trace.title}: ${ms(trace.durationMs)}`);
  const azure = el(
    "p",
    "muted",
    `At time scale ${trace.timeScale}, that is about ${Math.round((trace.durationMs * trace.timeScale) / 60000)} minutes of Azure's time. ` +
      `Trace ${trace.traceId}, ${trace.rows.length} spans from the bot's web and worker roles, exported over OTLP to the demo.`,
  );
  const path = el("div", "path");
  path.append(el("span", "muted", "Critical path:"));
  trace.criticalPath.forEach((hop, i) => {
    if (i > 0) path.append(el("span", "arrow", "→"));
    path.append(el("span", "hop", `${hop.name.replace(/^labops\./, "")} ${ms(hop.durationMs)}`));
  });
  summary.replaceChildren(h1, azure, path);
  $("legend").hidden = false;

  const axis = el("div", "row axis");
  axis.append(el("div", "name", "span · process"));
  const ticks = el("div", "track");
  const step = niceStep(total);
  for (let t = 0; t <= total; t += step) {
    const tick = el("span", "tick", ms(t));
    tick.style.left = `${(t / total) * 100}%`;
    ticks.append(tick);
  }
  axis.append(ticks);
  const rows = [axis];
  for (const row of trace.rows) {
    if (row.sdk && !showSdk) continue;
    const r = el("div", `row${row.critical ? " crit" : ""}`);
    const name = el("div", "name");
    name.style.paddingLeft = `${row.depth * 12}px`;
    name.append(el("span", "", row.name), el("span", "svc", row.service));
    const facts = Object.entries(row.facts).map(([k, v]) => `${k}=${v}`);
    name.title = [
      row.name,
      `${row.kind} span in ${row.service}`,
      ...facts,
      row.error ? `failed: ${row.error}` : "",
    ]
      .filter(Boolean)
      .join("\n");
    const track = el("div", "track");
    const bar = el("div", `bar ${roleClass(row)}`);
    const left = (row.startMs / total) * 100;
    const width = ((row.endMs - row.startMs) / total) * 100;
    bar.style.left = `${left}%`;
    bar.style.width = `${width}%`;
    for (const m of row.marks) {
      const mark = el("span", "mark");
      mark.title = `${m.name} at ${ms(m.atMs)}`;
      mark.style.left = `${((m.atMs - row.startMs) / Math.max(row.endMs - row.startMs, 0.001)) * 100}%`;
      bar.append(mark);
    }
    const dur = el("span", "dur", ms(row.endMs - row.startMs));
    dur.style.left = `calc(${Math.min(left + width, 92)}% + 4px)`;
    track.append(bar, dur);
    r.append(name, track);
    rows.push(r);
  }
  box.replaceChildren(...rows);
}

function niceStep(total) {
  const raw = total / 8;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
}

async function refresh() {
  try {
    const res = await fetch("/api/trace", { cache: "no-store" });
    const text = await res.text();
    if (text !== last) {
      last = text;
      draw(JSON.parse(text));
    }
  } catch {
    // the demo is stopping; try again
  }
}

$("show-sdk").addEventListener("change", () => last && draw(JSON.parse(last)));
refresh();
setInterval(refresh, 2000);
