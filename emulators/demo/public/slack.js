// The Slack channel: Block Kit and mrkdwn as Slack shows them, with each state in a word and a colour.
import { clock, demoAside, esc, icon, pill, portalLink, progress, stepRow } from "./shared.js";

export const SLACK_CHIPS = [
  "/lab create team-a",
  "/lab status team-a",
  "/secret rotate color --lab team-a",
  "/secret rotate color orange --lab team-a",
  "/secret list --lab team-a",
  "/lab destroy team-a",
  "/lab list",
  "/lab help",
];

const CARD_ICON = {
  white_check_mark: "succeeded",
  x: "failed",
  warning: "warning",
  information_source: "info",
  no_entry_sign: "cancelled",
  arrows_counterclockwise: "running",
  hourglass_flowing_sand: "queued",
};
const STEP_ICON = {
  white_circle: "pending",
  large_blue_circle: "running",
  white_check_mark: "done",
  x: "failed",
  heavy_minus_sign: "skipped",
};
const INLINE = {
  white_check_mark: "✓",
  heavy_check_mark: "✓",
  x: "✗",
  warning: "⚠",
  information_source: "ℹ",
  no_entry_sign: "⊘",
  arrows_counterclockwise: "↻",
  hourglass_flowing_sand: "◷",
  white_circle: "○",
  large_blue_circle: "●",
  heavy_minus_sign: "–",
};

/** Slack mrkdwn as HTML: code kept as typed, mentions by name, links, bold, italics, strikes, icons. */
export function mrkdwn(text, names) {
  const kept = [];
  const keep = (html) => `\uE000${kept.push(html) - 1}\uE000`;
  let s = esc(text ?? "");
  s = s.replace(/```([\s\S]*?)```/g, (_, c) => keep(`<pre>${c}</pre>`));
  s = s.replace(/`([^`\n]+)`/g, (_, c) => keep(`<code>${c}</code>`));
  s = s.replace(/&lt;@([A-Z0-9]+)(?:\|([^&]+))?&gt;/g, (_, id, label) =>
    keep(`<span class="mention${id === names.me ? " me" : ""}">@${esc(label ?? names[id] ?? id)}</span>`),
  );
  s = s.replace(/&lt;!(here|channel|everyone)&gt;/g, (_, w) => keep(`<span class="mention">@${w}</span>`));
  s = s.replace(/&lt;#[A-Z0-9]+\|([^&]+)&gt;/g, (_, c) => keep(`<span class="mention">#${c}</span>`));
  s = s.replace(/&lt;(https?:\/\/[^|&]+)\|([^&]+)&gt;/g, (_, u, t) => {
    const link = portalLink(u.replace(/&amp;/g, "&"), t);
    return keep(`<a href="${esc(link.href)}" target="_blank" rel="noopener">${esc(link.label)}</a>`);
  });
  s = s.replace(/(^|[\s(])\*([^*\n]+)\*/g, "$1<b>$2</b>");
  s = s.replace(/(^|[\s(])_([^_\n]+)_/g, "$1<i>$2</i>");
  s = s.replace(/(^|[\s(])~([^~\n]+)~/g, "$1<s>$2</s>");
  s = s.replace(/:([a-z0-9_+-]+):/g, (m, n) => (INLINE[n] ? icon(INLINE[n], n.replace(/_/g, " ")) : m));
  s = s.replace(/\n/g, "<br>");
  return s.replace(/\uE000(\d+)\uE000/g, (_, i) => kept[Number(i)]);
}

function textOf(t, names) {
  return t == null ? "" : t.type === "plain_text" ? esc(t.text) : mrkdwn(t.text, names);
}

/** A section of step lines (`:icon: Label _2s_ — detail`), or undefined when it is not one. */
function steps(text, names) {
  const lines = text.split("\n");
  const rows = [];
  for (const line of lines) {
    const m = /^:([a-z_]+): (.*?)(?: _([^_]+)_)?(?: — (.*))?$/.exec(line);
    if (!m || !STEP_ICON[m[1]]) return undefined;
    rows.push(
      stepRow(STEP_ICON[m[1]], mrkdwn(m[2], names), m[3] ? esc(m[3]) : "", m[4] ? mrkdwn(m[4], names) : ""),
    );
  }
  return rows.join("");
}

/** The plain title of a card (its first section without the status icon). */
export function cardTitle(message) {
  const t = message.blocks?.[0]?.text?.text ?? message.text ?? "";
  return t.replace(/^:[a-z_]+: /, "").replace(/\*/g, "");
}

export function renderBlocks(message, names) {
  const blocks = message.blocks ?? [];
  return blocks
    .map((b, i) => {
      if (b.type === "section") {
        const text = b.text?.text ?? "";
        const status = i === 0 ? /^:([a-z_]+): ([\s\S]*)$/.exec(text) : null;
        let html = "";
        if (status && CARD_ICON[status[1]]) html = `${pill(CARD_ICON[status[1]])}${mrkdwn(status[2], names)}`;
        else if (b.text) html = steps(text, names) ?? textOf(b.text, names);
        const fields = b.fields
          ? `<div class="fields">${b.fields.map((f) => `<div>${textOf(f, names)}</div>`).join("")}</div>`
          : "";
        return `<div class="block">${html}${fields}</div>`;
      }
      if (b.type === "context") {
        const bar = (b.elements ?? [])
          .map((e) => /^`([█░]+) (\d+)\/(\d+)`$/.exec(e.text ?? ""))
          .find(Boolean);
        if (bar) return progress(Number(bar[2]), Number(bar[3]));
        const parts = (b.elements ?? []).map((e) => (e.type === "image" ? "" : textOf(e, names)));
        return `<div class="block context">${parts.join(" · ")}</div>`;
      }
      if (b.type === "header") return `<div class="block"><b>${textOf(b.text, names)}</b></div>`;
      if (b.type === "divider") return "<hr>";
      if (b.type === "actions") {
        const buttons = (b.elements ?? []).map((e) => {
          if (e.url) {
            const link = portalLink(e.url, e.text?.text ?? "");
            return `<a class="btn" href="${esc(link.href)}" target="_blank" rel="noopener">${esc(link.label)}</a>`;
          }
          return `<button type="button" class="btn ${esc(e.style ?? "")}" data-ts="${esc(message.ts)}" data-action="${esc(e.action_id)}">${textOf(e.text, names)}</button>`;
        });
        return `<div class="actions">${buttons.join("")}</div>`;
      }
      return "";
    })
    .join("");
}

export function renderMessage(m, ctx, inThread) {
  const bot = m.user === "U0BOT" || m.ephemeral;
  const who = bot ? `labops<span class="badge">APP</span>` : esc(ctx.names[m.user] ?? m.user);
  const body = m.blocks?.length
    ? renderBlocks(m, ctx.names)
    : `<div class="block">${mrkdwn(m.text, ctx.names)}</div>`;
  const aside = bot && !m.ephemeral && m.blocks?.length ? demoAside(cardTitle(m), (c) => `/${c}`) : "";
  const n = m.replies?.length ?? 0;
  const replies =
    !inThread && n > 0
      ? `<button type="button" class="replies" data-thread="${esc(m.ts)}">${n} repl${n === 1 ? "y" : "ies"}</button>`
      : "";
  return `<div class="msg ${m.ephemeral ? "ephemeral" : ""}" data-msg="${esc(m.ts)}">
    <div class="avatar ${bot ? "bot" : "user"}">${bot ? "L" : "Y"}</div>
    <div><span class="who">${who}</span><span class="time">${clock(new Date(Number(m.ts) * 1000))}</span>${m.edits ? ' <span class="edited">(edited)</span>' : ""}
      ${body}${aside}${m.ephemeral ? '<div class="only-you">Only visible to you</div>' : ""}${replies}</div></div>`;
}

export function renderChannel(slack, ctx) {
  if (!slack.messages.length)
    return '<div class="empty">No messages yet. Type <code>/lab create team-a</code> below.</div>';
  return slack.messages.map((m) => renderMessage(m, ctx, false)).join("");
}

export function renderThread(root, ctx) {
  return [root, ...root.replies].map((m) => renderMessage(m, ctx, true)).join("");
}

/** The open modal (the private form of `/secret rotate NAME`), or "" when none. */
export function renderModal(view, names) {
  const v = view.view;
  const inputs = (v.blocks ?? [])
    .filter((b) => b.type === "input")
    .map((b) => {
      const el = b.element ?? {};
      const err = view.errors?.[b.block_id] ? `<div class="error">${esc(view.errors[b.block_id])}</div>` : "";
      // A secret's value: typed like a password, as Slack's form keeps it out of the channel.
      const type = /value/i.test(el.action_id) ? "password" : "text";
      return `<label for="in-${esc(el.action_id)}">${textOf(b.label, names)}</label>
      <input id="in-${esc(el.action_id)}" name="${esc(el.action_id)}" type="${type}" placeholder="${esc(el.placeholder?.text ?? "")}" value="${esc(el.initial_value ?? "")}" autocomplete="off">
      ${b.hint ? `<div class="hint-text">${textOf(b.hint, names)}</div>` : ""}${err}`;
    })
    .join("");
  const notes = (v.blocks ?? [])
    .filter((b) => b.type === "section" || b.type === "context")
    .map(
      (b) =>
        `<div class="hint-text">${b.text ? textOf(b.text, names) : (b.elements ?? []).map((e) => textOf(e, names)).join(" ")}</div>`,
    )
    .join("");
  return `<h2>${textOf(v.title, names)}</h2><div class="body">${notes}${inputs}</div>
    <div class="foot"><button type="button" class="btn" id="modal-cancel">${textOf(v.close ?? { type: "plain_text", text: "Cancel" }, names)}</button>
    <button type="submit" class="btn primary">${textOf(v.submit ?? { type: "plain_text", text: "Submit" }, names)}</button></div>`;
}
