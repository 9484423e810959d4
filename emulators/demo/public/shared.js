// Helpers both channel views use: escaping, state words and colours, the progress bar, and the
// demo's own notes (podinfo, the emulated portal), which are marked as the demo's, not the bot's.

export function esc(s) {
  return String(s ?? "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/** Card states: a word and a colour, and a glyph every font has (no emoji font needed). */
export const CARD_STATES = {
  succeeded: "Done",
  failed: "Failed",
  running: "Running",
  queued: "Queued",
  warning: "Warning",
  info: "Info",
  cancelled: "Cancelled",
};

export function pill(state) {
  return `<span class="pill st-${esc(state)}">${esc(CARD_STATES[state] ?? state)}</span>`;
}

const STEP = {
  done: ["✓", "done"],
  running: ["●", "running"],
  pending: ["○", "waiting"],
  failed: ["✗", "failed"],
  skipped: ["–", "skipped"],
};

/** One line of a job's checklist: a coloured glyph, the state in a word, the label, how long it took. */
export function stepRow(state, labelHtml, tookHtml, detailHtml) {
  const [glyph, word] = STEP[state] ?? ["·", state];
  return (
    `<div class="step ${esc(state)}"><span class="glyph" aria-hidden="true">${glyph}</span>` +
    `<span class="word">${word}</span><span>${labelHtml}${tookHtml ? ` <span class="took">${tookHtml}</span>` : ""}` +
    `${detailHtml ? ` — ${detailHtml}` : ""}</span></div>`
  );
}

export function progress(done, total) {
  const pct = total > 0 ? Math.round((done / total) * 100) : 0;
  return (
    `<div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="${total}" aria-valuenow="${done}">` +
    `<span class="bar"><span style="width:${pct}%"></span></span><span>${done}/${total} steps</span></div>`
  );
}

/** Inline status icons: a glyph in the state's colour. */
export const ICON_CLASS = {
  "✓": "ok",
  "✗": "bad",
  "⚠": "warn",
  ℹ: "info",
  "⊘": "warn",
  "↻": "info",
  "◷": "info",
};
export function icon(glyph, title) {
  return `<span class="icon ${ICON_CLASS[glyph] ?? ""}" title="${esc(title)}">${glyph}</span>`;
}

/**
 * "Open in Azure portal" leads to the real portal, which knows nothing of emulated ids: the demo
 * links its own view of what the Azure emulator holds, and says so.
 */
export function portalLink(url, label) {
  const m = /^https:\/\/portal\.azure\.com\/#@[^/]*\/resource(\/subscriptions\/.+)$/.exec(url);
  if (!m) return { href: url, label, emulated: false };
  return { href: `/portal?id=${encodeURIComponent(m[1])}`, label: `${label} (emulated)`, emulated: true };
}

/** The demo's note under a ready lab's card or a rotation's card (plain title text). */
export function demoAside(title, command) {
  const ready = /^Lab ([a-z][a-z0-9-]*) is ready/.exec(title);
  const rotation = /^Rotation(?: traced)?: ([a-z0-9-]+) in ([a-z][a-z0-9-]*)/.exec(title);
  if (ready) {
    const lab = ready[1];
    return (
      `<div class="demo-aside"><span class="tag">demo</span>Next: <button type="button" data-podinfo="${esc(lab)}">open podinfo for ${esc(lab)}</button> ` +
      `(what <code>kubectl port-forward deploy/podinfo-csi 9898</code> would show), then type ` +
      `<code>${esc(command(`secret rotate color --lab ${lab}`))}</code>, give a new colour in the form ` +
      "(tomato, say) and watch the page take it as the new pods come up.</div>"
    );
  }
  if (rotation) {
    const lab = rotation[2];
    return `<div class="demo-aside"><span class="tag">demo</span><button type="button" data-podinfo="${esc(lab)}">Watch podinfo for ${esc(lab)}</button> take the new version pod by pod.</div>`;
  }
  return "";
}

export function clock(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
